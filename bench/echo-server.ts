// The benchmark's null server: a user-placement service answering COMMON_PING through
// the trap path, and (for the nats-raw baseline) plain request/reply on a subject under
// its own endpoint, with no kernel in between.
import { loadCredential } from "#base/credentials.ts";
import { createLogger } from "#base/log.ts";
import { NatsTransport, startService } from "#libsys";

import { RAW_SUBJECT } from "./raw-subject.ts";

const label = process.env.MK_LABEL ?? "bench-echo";
const transport = await NatsTransport.connect(label, loadCredential());
// Answers empty, as COMMON_PING does: a sized request carries its bytes one way on every path.
transport.nc.subscribe(RAW_SUBJECT, { callback: (_e, m) => void m.respond() });
const running = await startService({ label, create: () => ({ handlers: {} }) }, transport, { log: createLogger(label) });
process.on("SIGTERM", () => void running.stop().then(() => process.exit(0)));
