// Commands that look at the system: echo, uptime (kernel-core's), ps (the kernel's endpoint
// table joined with its process table) and services (what rs does with each service).
import { Rs, SysCall, type EndpointInfo, type ProcessInfo, type ServiceStatus } from "#abi";
import { sysGetEndpoints, type Sys } from "#libsys";
import { usage, type Command } from "./command.ts";
import { columns } from "./output.ts";

export const echo: Command = {
  name: "echo",
  usage: "echo [ARG...]",
  summary: "print the arguments, one blank apart",
  run(args, out) {
    out.line(args.join(" "));
  },
};

/** 93784 s -> "1 day, 02:03:04" (uptime's shape). */
function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((n) => String(n).padStart(2, "0")).join(":");
  return `${days} day${days === 1 ? "" : "s"}, ${hms}`;
}

export const uptime: Command = {
  name: "uptime",
  usage: "uptime",
  summary: "how long kernel-core has run, and how many endpoints are ready",
  async run(args, out, deps) {
    if (args.length > 0) throw usage(this);
    const rows = await sysGetEndpoints(deps.sys);
    const kernel = rows.find((r) => r.label === "kernel");
    const now = deps.clock.now();
    const up = kernel ? duration(now - Date.parse(kernel.since)) : "unknown";
    const ready = rows.filter((r) => r.state === "ready").length;
    out.line(
      `${new Date(now).toISOString().slice(11, 19)}  up ${up},  ${ready} endpoints ready${kernel ? `  (${kernel.endpoint}, pid ${kernel.pid})` : ""}`,
    );
  },
};

/** The process table's rows by endpoint; empty when the kernel does not answer it (older kernels). */
async function processes(sys: Sys): Promise<Map<string, ProcessInfo>> {
  try {
    const r = await sys.kernelCall(SysCall.SYS_GETINFO, { what: "processes" });
    return new Map((r.args.processes ?? []).map((p) => [p.endpoint, p]));
  } catch {
    return new Map();
  }
}

export const ps: Command = {
  name: "ps",
  usage: "ps",
  summary: "the kernel's endpoint table: label, pid, generation, state, scheduling state",
  async run(args, out, deps) {
    if (args.length > 0) throw usage(this);
    const [rows, procs] = await Promise.all([sysGetEndpoints(deps.sys), processes(deps.sys)]);
    const body = rows.map((r: EndpointInfo) => {
      const p = procs.get(r.endpoint);
      return [
        r.label,
        String(r.pid),
        String(r.generation),
        r.state,
        r.placement,
        p?.stat ?? "-",
        p?.cpu_ms === undefined ? "-" : String(Math.round(p.cpu_ms)),
        String(r.messages),
      ];
    });
    out.line(columns([["LABEL", "PID", "GEN", "STATE", "PLACEMENT", "STAT", "CPU_MS", "MSGS"], ...body]));
  },
};

/** rs's table (RS_LIST): also how chaos finds a target's heartbeat period. */
export async function rsList(sys: Sys): Promise<ServiceStatus[]> {
  const r = await sys.sendrec("rs", Rs.RS_LIST, {}, undefined, 10_000);
  return r.args.services;
}

export const services: Command = {
  name: "services",
  usage: "services",
  summary: "what rs does with each service: state, generation, restarts, last cause, recovery times",
  async run(args, out, deps) {
    if (args.length > 0) throw usage(this);
    const rows = await rsList(deps.sys);
    const body = rows.map((r) => [
      r.label,
      r.state,
      String(r.pid ?? "-"),
      String(r.generation ?? "-"),
      String(r.restarts),
      r.detect_ms === undefined ? "-" : String(r.detect_ms),
      r.recover_ms === undefined ? "-" : String(r.recover_ms),
      r.last_cause ?? "",
    ]);
    out.line(columns([["LABEL", "STATE", "PID", "GEN", "RESTARTS", "DETECT_MS", "RECOVER_MS", "LAST CAUSE"], ...body]));
  },
};
