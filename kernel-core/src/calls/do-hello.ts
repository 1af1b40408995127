// SYS_HELLO: a new incarnation announces itself. It becomes label#(generation+1); the
// previous incarnation, if still registered, is dead from now on. With `resume`, a
// running incarnation registers again after kernel-core restarted, keeping its generation.
// An instance of a tool (label.id) is one more run beside the others, at most `instances`
// of them live at once (EAGAIN past it).
import { baseLabel, MkError, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doHello: KernelCall<
  typeof SysCall.SYS_HELLO,
  "boot" | "channelLabels" | "log" | "logLimiter" | "stillThere" | "table"
> = async (k, c) => {
  const { pid, host, conn = "", resume } = c.args;
  const who = { placement: c.origin, pid, host, conn };
  if (resume) {
    const entry = k.table.resume(c.label, resume, who);
    k.logLimiter.allow(k.log, `hello:${c.privileges.label}`, () =>
      k.log.info({ incarnation: entry.key, peerPid: pid, host }, "incarnation %s registered again", entry.key),
    );
    return { args: { generation: entry.generation, previous: 0, boot: k.boot, channels: channelsOf(k, c) } };
  }
  if (c.label !== c.privileges.label)
    await roomForInstance(k, c.label, c.privileges.label, c.privileges.instances, c.origin === "user" ? conn : "kernel");
  const { entry, previous } = k.table.incarnate(c.label, who);
  k.logLimiter.allow(k.log, `hello:${c.privileges.label}`, () =>
    k.log.info({ incarnation: entry.key, peerPid: pid, host, previous }, "incarnation %s starting", entry.key),
  );
  return { args: { generation: entry.generation, previous, boot: k.boot, channels: channelsOf(k, c) } };
};

/** The labels the table gives the caller a channel to (a label's own process only: not its instances, not kernel placement). */
function channelsOf(k: Parameters<typeof doHello>[0], c: Parameters<typeof doHello>[1]): string[] {
  if (c.origin !== "user" || c.label !== c.privileges.label) return [];
  return k.channelLabels(c.privileges);
}

/** How long a live instance has to answer the kernel's null message before the count. */
const STILL_THERE_MS = 1000;

/**
 * One more run of a tool, at most `max` at once (EAGAIN). An instance must name its NATS
 * connection (its death is seen by it); at the bound, the live instances are asked whether
 * they still listen first: one whose death went unseen (its disconnect came while the
 * kernel's own connection was away) is marked dead and frees its place.
 */
async function roomForInstance(k: Parameters<typeof doHello>[0], label: string, base: string, max: number, conn: string): Promise<void> {
  // Over NATS, the connection's name is how its death is seen (in kernel placement it dies with the kernel).
  if (!conn) throw new MkError("EINVAL", `${label}: an instance of ${base} must name its NATS connection (conn): its death is known by it`);
  const others = () =>
    k.table.list().filter((r) => r.state !== "dead" && r.label !== label && r.label !== base && baseLabel(r.label) === base);
  if (others().length < max) return;
  await Promise.all(
    others().map((r) => {
      const ep = k.table.get(r.label);
      return ep ? k.stillThere(ep, STILL_THERE_MS) : true;
    }),
  );
  const live = others().length;
  if (live >= max)
    throw new MkError("EAGAIN", `${base} runs ${live} instances already, its most (instances: ${max} in the privilege table)`);
}
