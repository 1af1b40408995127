// rs as a server: it follows the kernel event stream, starts every service the privilege
// table gives a command (adopting those already serving when rs itself restarted), pings
// them through the kernel, and answers mkctl's RS_UP, RS_DOWN, RS_RESTART and RS_LIST.
import { join } from "node:path";
import { Common, EMPTY, Rs, RsEventSubjects, type EndpointInfo, type RsEvent } from "#abi";
import { followEvents, sysGetEndpoints, sysGetPrivileges, type ServiceModule, type Sys, type SystemTable } from "#libsys";
import type { Backend, RunSpec } from "./backend.ts";
import { Supervisor, type SupervisedService } from "./supervisor.ts";

export const RS_LABEL = "rs";

export interface RsOptions {
  table: SystemTable;
  backend: Backend;
  /** Where credentials (creds/<label>.json) and logs (logs/<label>.log) are. */
  runDir: string;
  /** The environment every service starts with (rs's own, less what is per service). */
  env: Record<string, string>;
  cwd: string;
  /** Stop every service when rs stops (process mode; in compose they are compose's; not on a hand-over to a new rs). Default true. */
  stopServicesOnExit?: () => boolean;
  /** Where services stopped by hand or failed are remembered across rs's restarts. */
  intent?: { load(): Record<string, string>; save(intent: Record<string, string>): void };
}

/** The services rs runs: every user-placement service with a command, except rs itself. */
function supervised(o: RsOptions): SupervisedService[] {
  const self = o.table.services.get(RS_LABEL);
  return [...o.table.services.values()]
    .filter((s) => s.placement === "user" && s.command && s.label !== RS_LABEL)
    .map((s) => {
      const spec: RunSpec = {
        name: s.label,
        command: s.command!,
        cwd: o.cwd,
        logFile: join(o.runDir, "logs", `${s.label}.log`),
        env: { ...o.env, MK_CREDS: join(o.runDir, "creds", `${s.label}.json`), MK_LABEL: s.label },
      };
      const standby = s.restart.standby
        ? {
            ...spec,
            name: `${s.label}.standby`,
            logFile: join(o.runDir, "logs", `${s.label}.standby.log`),
            env: { ...spec.env, MK_STANDBY: "1" },
          }
        : undefined;
      return { label: s.label, spec, policy: s.restart, heartbeat: self?.ipc.includes(s.label) ?? false, ...(standby ? { standby } : {}) };
    });
}

export function rsService(o: RsOptions, ready?: (s: Supervisor) => void): ServiceModule {
  return {
    label: RS_LABEL,
    create(sys: Sys) {
      let seq = 0;
      const supervisor = new Supervisor({
        backend: o.backend,
        clock: sys.clock,
        services: supervised(o),
        // Read at each line: the lifecycle gives sys a logger naming the incarnation once it has one.
        get log() {
          return sys.log;
        },
        ping: async (label, timeoutMs) => void (await sys.sendrec(label, Common.COMMON_HEARTBEAT, {}, EMPTY, timeoutMs)),
        // The kernel answers it from rs's own row: how long it takes is the kernel's own delay.
        probe: async (timeoutMs) => void (await sysGetPrivileges(sys, timeoutMs)),
        onChange: (s, why) => {
          sys.log.debug({ service: s, why }, "%s is %s: %s", s.label, s.state, why);
          // The event's own shape (RsEventShape), field by field: what a reader checks.
          const ev: RsEvent = {
            state: s.state,
            label: s.label,
            rs: sys.self,
            seq: ++seq,
            at: new Date(sys.clock.now()).toISOString(),
            why: why.slice(0, 300),
            restarts: s.restarts,
            ...(s.generation ? { generation: s.generation } : {}),
            ...(s.pid ? { pid: s.pid } : {}),
            ...(s.last_cause ? { last_cause: s.last_cause } : {}),
            ...(s.detect_ms !== undefined ? { detect_ms: s.detect_ms } : {}),
            ...(s.recover_ms !== undefined ? { recover_ms: s.recover_ms } : {}),
          };
          sys.transport.announce?.(RsEventSubjects.event(s.state, s.label), new TextEncoder().encode(JSON.stringify(ev)));
        },
        intent: o.intent,
      });
      const init = async () => {
        await followEvents(sys, (ev) => supervisor.onEvent(ev));
        // Without the table rs adopts nothing and starts every service: said, not silent.
        const table = () =>
          sysGetEndpoints(sys).catch((e: unknown): EndpointInfo[] => {
            sys.log.warn({ err: e instanceof Error ? e.message : String(e) }, "the endpoint table could not be read: nothing adopted");
            return [];
          });
        const eps = await table();
        const serving = (all: EndpointInfo[]) =>
          all.filter((e) => e.state === "ready").map((e) => ({ label: e.label, pid: e.pid, host: e.host, generation: e.generation }));
        await supervisor.startAll(serving(eps));
        supervisor.caughtUp(serving(await table()));
        ready?.(supervisor);
      };
      return {
        concurrency: 4,
        initFresh: init,
        initRestart: init,
        // A new kernel: the services rejoin it by themselves; rs keeps its table.
        initKernelRestart: async () => undefined,
        shutdown: () => supervisor.shutdown(o.stopServicesOnExit?.() ?? true),
        handlers: {
          [Rs.RS_UP]: async (req) => ({ args: { pid: await supervisor.up(req.args.label) } }),
          [Rs.RS_DOWN]: async (req) => {
            await supervisor.down(req.args.label);
            return {};
          },
          [Rs.RS_RESTART]: async (req) => ({ args: { pid: await supervisor.restart(req.args.label) } }),
          [Rs.RS_LIST]: () => ({ args: { services: supervisor.list() } }),
          [Rs.RS_RECOVERIES]: (req) => {
            const list = supervisor.recoveries
              .filter((r) => r.servingAt >= (req.args.since ?? 0))
              .map((r) => ({ ...r, cause: r.cause.slice(0, 300) }));
            return { args: { count: list.length }, data: new TextEncoder().encode(JSON.stringify(list)) };
          },
        },
      };
    },
  };
}
