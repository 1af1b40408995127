// The benchmark's floor for the trap path: a process that moves a null message over the
// same four NATS hops as kernel-sendrec, with the same envelope and the same request
// machinery, and does nothing else: no privilege table, no endpoint table, no metrics.
// On RELAY_DIRECT_SUBJECT it is reply-direct's floor: three hops, the server answering
// the client's own reply subject as it does on that path.
// kernel-sendrec against nats-relay is what the kernel's own work costs; nats-relay
// against nats-raw is what two more hops cost on this machine. It borrows the kernel's
// NATS user, as the raw baseline does: only the kernel may publish to endpoint subjects,
// and the kernel's inbox is the one subject tree that user may subscribe besides traps.
import { connect, type Msg } from "@nats-io/transport-node";
import { addHop, H, MkError, parseEndpoint, Subjects, type Endpoint } from "#abi";
import { systemClock } from "#base/clock.ts";
import { loadCredential } from "#base/credentials.ts";
import { createLogger } from "#base/log.ts";
import { Envelope, readEnvelope } from "#base/nats-envelope.ts";
import { RequestMux } from "#base/request-mux.ts";
import { errorEnvelope, Wire } from "#base/wire.ts";
import { onShutdown } from "#base/shutdown.ts";
import { RELAY_DIRECT_SUBJECT, RELAY_SUBJECT } from "./raw-subject.ts";

const log = createLogger("bench-relay");
const cred = loadCredential();
const nc = await connect({
  servers: cred.servers,
  user: cred.user,
  pass: cred.password,
  name: "bench-relay",
  inboxPrefix: Subjects.kernelAnswers,
});
const wire = new Wire(nc, log, systemClock);
const mux = new RequestMux(wire, Subjects.kernelAnswers, systemClock);
mux.start();
const SOURCE = "bench-client#0"; // fixed: the relay authenticates nobody

/** The request as the relay hands it on: the kernel's envelope, minus the kernel's checks. */
function onward(m: Msg): { dst: Endpoint; h: Envelope } | undefined {
  const env = readEnvelope(m);
  const dst = parseEndpoint(env.get(H.dst) ?? "");
  if (!dst || dst.generation === 0) {
    m.respond(undefined, { headers: errorEnvelope(new MkError("EBADSRCDST", "the relay needs Mk-Dst label#generation")) });
    return undefined;
  }
  const h = new Envelope();
  h.set(H.type, env.get(H.type) ?? "0");
  h.set(H.src, SOURCE);
  h.set(H.dst, `${dst.label}#${dst.generation}`);
  h.set(H.req, env.get(H.req) ?? "");
  h.set(H.hops, addHop(env.get(H.hops), "relay", systemClock.nowUs()));
  const trace = env.get(H.trace); // carried as the kernel carries it
  if (trace) h.set(H.trace, trace);
  return { dst, h };
}

nc.subscribe(RELAY_DIRECT_SUBJECT, {
  callback: (_e, m) => {
    const o = onward(m);
    if (o && m.reply) wire.publish(Subjects.endpoint(o.dst.label, o.dst.generation), m.data, o.h, m.reply);
  },
});

nc.subscribe(RELAY_SUBJECT, {
  callback: (_e, m) => {
    const o = onward(m);
    if (!o) return;
    const { dst, h } = o;
    mux.request(Subjects.endpoint(dst.label, dst.generation), m.data, h, 5000).then(
      (r) => {
        const back = readEnvelope(r);
        const status = back.get(H.status);
        if (status === undefined) {
          m.respond(undefined, { headers: errorEnvelope(new MkError("EIO", "relay: the reply has no Mk-Status")) });
          return;
        }
        const out = new Envelope();
        out.set(H.status, status);
        out.set(H.hops, addHop(back.get(H.hops), "relay", systemClock.nowUs()));
        m.respond(r.data, { headers: out });
      },
      (e: Error) => m.respond(undefined, { headers: errorEnvelope(new MkError("EIO", `relay: ${e.message}`)) }),
    );
  },
});
await nc.flush();
log.info({ subject: RELAY_SUBJECT }, "relaying on %s", RELAY_SUBJECT);
onShutdown(log, async () => {
  mux.close(new Error("relay stopping"));
  await nc.drain().catch(() => undefined);
});
