// A client incarnation: a process that only calls others (mkctl, tests, workloads). It
// still says SYS_HELLO, so the kernel knows its endpoint and stamps it as the source.
import type { Clock } from "#base/clock.ts";
import type { Credential } from "#base/credentials.ts";
import { createLogger, type Logger } from "#base/log.ts";
import { NatsTransport } from "./nats-transport.ts";
import { startService, type RunningService } from "./service.ts";

export async function connectClient(label: string, cred: Credential, o: { log?: Logger; clock?: Clock } = {}): Promise<RunningService> {
  const transport = await NatsTransport.connect(label, cred);
  try {
    return await startService({ label, create: () => ({ handlers: {} }) }, transport, { log: o.log ?? createLogger(label), clock: o.clock });
  } catch (e) {
    // Refused on the way in (EAGAIN, ECALLDENIED ...): nothing is left connected.
    await transport.close().catch(() => undefined);
    throw e;
  }
}
