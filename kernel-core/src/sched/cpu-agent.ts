// The CPU agent (compose): the hands of kernel-core's scheduler across containers. The
// scheduled containers share one PID namespace (held by the `pidns` container); this
// process runs in it as root with only CAP_KILL, CAP_SYS_NICE and CAP_CHOWN, holds no
// NATS credential, and listens on a unix socket only kernel-core's UID may open. Lines:
//   stop <pid> | cont <pid> | nice <pid> <n> | kill <pid> SIGKILL|SIGTERM|SIGSTOP|SIGCONT
// It acts only on processes whose UID (real, effective, saved and file-system alike) is
// one scheduled label's own (MK_UIDS; never root's, kernel-core's or the emulator's, nor
// one that two labels share), whatever kernel-core asks; nice values only 0..19. When
// kernel-core's connection closes (it died or restarted) it continues every process it
// stopped: nothing stays frozen.
import { ExitStatus } from "#base/errors.ts";
import { chmodSync, chownSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { createLogger, LogLimiter } from "#base/log.ts";
import { systemClock } from "#base/clock.ts";
import { onShutdown } from "#base/shutdown.ts";
import { parseUids, procUid, schedulableUids, setNiceAllThreads } from "./process-control.ts";

const log = createLogger("cpu-agent", "cpu");
const limiter = new LogLimiter(systemClock);
const path = process.env.MK_CPU_AGENT ?? "/run/mkos-cpu/agent.sock";
const uids = parseUids(process.env.MK_UIDS ?? "");
const kernelUid = uids.byLabel.get("kernel");
/** Each scheduled label's own UID; never root's, kernel-core's or the emulator's, nor one labels share. */
const allowed = new Set(schedulableUids(uids).keys());
const KILL_SIGNALS = ["SIGKILL", "SIGTERM", "SIGSTOP", "SIGCONT"];
/** Longest command line: anything longer ends the connection. */
const MAX_LINE = 64;

/** Pids this agent stopped, per connection: continued when it closes. */
function serve(sock: Socket): void {
  const stopped = new Set<number>();
  let buf = "";
  const act = (line: string): void => {
    const [cmd, a, b] = line.split(" ");
    const pid = Number(a);
    if (!/^[0-9]{1,9}$/.test(a ?? "") || pid <= 1 || pid === process.pid) return refuse(line, "not a pid it may touch");
    const uid = procUid(pid);
    if (uid === undefined) return; // gone
    if (!allowed.has(uid)) return refuse(line, `uid ${uid} is not a scheduled service's`);
    try {
      if (cmd === "stop") {
        process.kill(pid, "SIGSTOP");
        stopped.add(pid);
      } else if (cmd === "cont") {
        process.kill(pid, "SIGCONT");
        stopped.delete(pid);
      } else if (cmd === "nice" && /^[0-9]{1,2}$/.test(b ?? ""))
        setNiceAllThreads(pid, Math.min(19, Number(b))); // every thread
      // SYS_KILL (chaos): a hang it sends is not this agent's to continue at close.
      else if (cmd === "kill" && KILL_SIGNALS.includes(b ?? "")) process.kill(pid, b as NodeJS.Signals);
      else refuse(line, "unknown command");
    } catch {
      // the process ended meanwhile
    }
  };
  const refuse = (line: string, why: string): void => {
    limiter.allow(log, "refused", () => log.warn({ line: line.slice(0, MAX_LINE) }, "refused: %s", why));
  };
  sock.setEncoding("latin1");
  sock.on("data", (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      act(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    if (buf.length > MAX_LINE) sock.destroy();
  });
  const thaw = () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // gone
      }
    }
    if (stopped.size > 0)
      log.info({ continued: stopped.size }, "kernel-core's connection closed: continued %d processes it had stopped", stopped.size);
    stopped.clear();
  };
  sock.on("close", thaw);
  sock.on("error", () => undefined);
}

rmSync(path, { force: true });
const server = createServer(serve);
server.on("error", (e) => {
  log.fatal({ err: e }, "cpu agent cannot listen on %s", path);
  process.exit(ExitStatus.UNAVAILABLE);
});
server.listen(path, () => {
  chmodSync(path, 0o600);
  if (kernelUid !== undefined) chownSync(path, kernelUid, kernelUid);
  log.info({ path, uids: [...allowed] }, "cpu agent listening on %s", path);
});
onShutdown(log, async () => {
  server.close();
});
