// SYS_HELLO: a new incarnation announces itself. It becomes label#(generation+1); the
// previous incarnation, if still registered, is dead from now on. With `resume`, a
// running incarnation registers again after kernel-core restarted, keeping its generation.
// An instance of a tool (label.id) is one more run beside the others, at most `instances`
// of them live at once (EAGAIN past it).
import { baseLabel, MkError, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doHello: KernelCall<typeof SysCall.SYS_HELLO> = (k, c) => {
  const { pid, host, conn = "", resume } = c.args;
  const who = { placement: c.origin, pid, host, conn };
  if (resume) {
    const entry = k.table.resume(c.label, resume, who);
    k.logLimiter.allow(k.log, `hello:${c.privileges.label}`, () => k.log.info({ incarnation: entry.key, peerPid: pid, host }, "incarnation %s registered again", entry.key));
    return { args: { generation: entry.generation, previous: 0, boot: k.boot } };
  }
  if (c.label !== c.privileges.label) {
    const others = (r: { label: string }) => r.label !== c.label && r.label !== c.privileges.label && baseLabel(r.label) === c.privileges.label;
    const live = k.table.list().filter((r) => r.state !== "dead" && others(r)).length;
    if (live >= c.privileges.instances) throw new MkError("EAGAIN", `${c.privileges.label} runs ${live} instances already, its most (instances: ${c.privileges.instances} in the privilege table)`);
  }
  const { entry, previous } = k.table.incarnate(c.label, who);
  k.logLimiter.allow(k.log, `hello:${c.privileges.label}`, () => k.log.info({ incarnation: entry.key, peerPid: pid, host, previous }, "incarnation %s starting", entry.key));
  return { args: { generation: entry.generation, previous, boot: k.boot } };
};
