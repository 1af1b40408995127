// One hostile program of bench:flood, in its own process as a real attacker is: publishes
// MK_FLOOD_N copies of one trap on its own trap subject as fast as NATS takes them, and
// prints how long that took (ms) on stdout. MK_FLOOD_KIND: denied (a trap its privileges
// refuse) or notify (a notify it may send); MK_FLOOD_CREDS: its credential file.
import { connect } from "@nats-io/transport-node";
import { Bdev, Kind, NOTIFY_MESSAGE, Subjects } from "#abi";
import { loadCredential, trapEnvelope } from "#libsys";

const n = Number(process.env.MK_FLOOD_N ?? "0");
const kind = process.env.MK_FLOOD_KIND ?? "denied";
const cred = loadCredential(process.env.MK_FLOOD_CREDS);
const label = cred.user;
const nc = await connect({
  servers: cred.servers,
  user: cred.user,
  pass: cred.password,
  name: `${label}.flood`,
  inboxPrefix: `_INBOX.${label}`,
});
const h =
  kind === "notify"
    ? trapEnvelope(label, "ata", NOTIFY_MESSAGE, Kind.NOTIFY, { bits: 1 })
    : trapEnvelope(label, "ata", Bdev.BDEV_READ, Kind.SEND, { minor: 0, lba: 0, count: 1 });
const subject = Subjects.trap(label);
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  nc.publish(subject, undefined, { headers: h });
  // A flush now and then bounds this client's own buffer; the server takes the rest.
  if (i % 1000 === 999) await nc.flush();
}
await nc.flush();
console.log(String(Math.round(performance.now() - t0)));
await nc.close();
