// A client incarnation: a process that only calls others (mkctl, tests, workloads). It
// still says SYS_HELLO, so the kernel knows its endpoint and stamps it as the source. A
// tool that may run several times at once (`instances` in the privilege table) connects as
// a new instance each time, `label.id`: two runs of mkctl are two endpoints, and neither
// supersedes the other.
import { randomBytes } from "node:crypto";
import type { Clock } from "#base/clock.ts";
import type { Credential } from "#base/credentials.ts";
import { createLogger, type Logger } from "#base/log.ts";
import { NatsTransport } from "./nats-transport.ts";
import { startService, type RunningService } from "./service.ts";

/** A fresh instance id: 8 lower-case letters and digits (INSTANCE_RE). */
export function instanceId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(8)].map((b) => alphabet[b % alphabet.length]).join("");
}

export async function connectClient(
  label: string,
  cred: Credential,
  o: { log?: Logger; clock?: Clock; instance?: boolean } = {},
): Promise<RunningService> {
  const as = o.instance ? `${label}.${instanceId()}` : label;
  // The caller's logger for the transport too: a tool that quiets its client (a table on
  // stdout) must not get the transport's warnings printed in the middle of it.
  const transport = await NatsTransport.connect(as, cred, o.log);
  try {
    // Superseded after a kernel-core restart (another client of the label registered first):
    // its connection closes, its requests fail; the process hosting it goes on.
    const onSuperseded = () => void transport.close().catch(() => undefined);
    return await startService({ label: as, create: () => ({ handlers: {} }) }, transport, {
      log: o.log ?? createLogger(label),
      clock: o.clock,
      onSuperseded,
    });
  } catch (e) {
    // Refused on the way in (EAGAIN, ECALLDENIED ...): nothing is left connected.
    await transport.close().catch(() => undefined);
    throw e;
  }
}
