// SYS_KILL: a chaos client (the dashboard, the shell) signals the live process of a label
// it may message (MINIX's sys_kill, which only PM may make). The kernel signals only a
// process it verifies as that label's own in this run (process mode: the environment and
// credential directory; compose: the label's own UID through the CPU agent), so a caller
// can never name kernel-core, the emulator, NATS or a stranger's pid. KILL and TERM end
// it (rs finds the death and restarts), STOP hangs it (rs finds the hang), CONT undoes that.
import { DenialKind, KERNEL, MkError, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doKill: KernelCall<typeof SysCall.SYS_KILL, "control" | "deny" | "log" | "priv" | "table"> = (k, c) => {
  const { label, signal } = c.args;
  if (label === KERNEL || !k.priv.services.has(label)) {
    throw new MkError(
      label === KERNEL ? "EPERM" : "EBADSRCDST",
      label === KERNEL ? "kill: kernel-core cannot be signalled" : `kill: no service ${label} in the privilege table`,
    );
  }
  if (!c.privileges.ipc.includes(label)) {
    k.deny({
      label: c.label,
      entry: c.caller,
      call: "kill",
      denied: DenialKind.IPC,
      target: label,
      errno: "ECALLDENIED",
      fields: { reqId: c.reqId },
      message: `kill: ${label} not in ${c.label}'s ipc`,
    });
    throw new MkError("ECALLDENIED", `kill: ${label} is not in ${c.label}'s ipc`);
  }
  const e = k.table.get(label);
  if (!e || e.state === "dead") throw new MkError("ESRCH", `kill: ${label} has no live incarnation`);
  if (e.placement === "kernel") throw new MkError("EPERM", `kill: ${label} runs inside kernel-core (no process of its own)`);
  if (!k.control.verify(e.pid, label, e.host))
    throw new MkError("EPERM", `kill: pid ${e.pid} cannot be verified as ${label}'s process here`);
  k.log.warn(
    { caller: c.caller?.key ?? c.label, target: e.key, pid: e.pid, signal, reqId: c.reqId },
    "SIG%s to %s (pid %d) from %s",
    signal,
    e.key,
    e.pid,
    c.label,
  );
  if (!k.control.kill(e.pid, `SIG${signal}`)) throw new MkError("ESRCH", `kill: ${label}'s process ${e.pid} is gone`);
  return { args: { pid: e.pid } };
};
