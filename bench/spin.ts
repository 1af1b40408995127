// A user program for the scheduling benchmark and tests. It registers as MK_LABEL (a
// client in the privilege table, with its credential in MK_CREDS), prints "ready", then:
//   MK_SPIN_MODE=compute (default)  computes without ever blocking (20 ms slices of a
//                                   busy loop, so its event loop still answers NATS)
//   MK_SPIN_MODE=read               blocks in sendrec: reads a line from the console (tty)
// It counts its work and prints the count on SIGTERM, then exits; superseded by a newer
// process of its label, it ends.
import { Cdev } from "#abi";
import { connectClient, createLogger, loadCredential, sysGetPrivileges } from "#libsys";

const label = process.env.MK_LABEL;
const mode = process.env.MK_SPIN_MODE ?? "compute";
if (!label || !process.env.MK_CREDS || (mode !== "compute" && mode !== "read")) {
  console.error("spin: needs MK_LABEL, MK_CREDS and MK_SPIN_MODE compute or read");
  process.exit(2);
}
const log = createLogger(label);
log.level = "warn";
const client = await connectClient(label, loadCredential(process.env.MK_CREDS), { log });
let work = 0;
let stopping = false;
process.once("SIGTERM", () => {
  stopping = true;
  console.log(JSON.stringify({ label, work }));
  void client.stop().finally(() => process.exit(0));
});
console.log("ready");
// One live incarnation per label: a newer process of this label supersedes this one,
// whose kernel calls then fail with EDEADSRCDST. Asked once a second, so a superseded
// program ends instead of computing on outside the scheduler's table. A new kernel-core
// answers EDEADSRCDST too until this program has registered with it again (a second or
// two), so only ten refusals in a row (as libsys's Recovering does) mean superseded.
let refused = 0;
const alive = setInterval(() => {
  sysGetPrivileges(client.sys).then(
    () => (refused = 0),
    (e: { errno?: string }) => {
      if (e.errno !== "EDEADSRCDST") return;
      if (++refused < 10) return;
      console.error(`spin: ${label} was superseded by a newer process of the same label: ending`);
      process.exit(1);
    },
  );
}, 1000);
alive.unref();
if (mode === "compute") {
  while (!stopping) {
    const end = performance.now() + 20;
    while (performance.now() < end) work++;
    await new Promise((r) => setImmediate(r));
  }
} else {
  while (!stopping) {
    const ok = await client.sys.sendrec("tty", Cdev.CDEV_READ, { minor: 0, count: 256, timeoutMs: 590_000 }, undefined, 600_000).then(
      () => true,
      (e: Error) => {
        console.error(`spin: read: ${e.message}`);
        return false;
      },
    );
    if (ok) work++;
    else await new Promise((r) => setTimeout(r, 1000)); // not a busy loop of failures
  }
}
