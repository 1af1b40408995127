// The shell as its own process: connects as MK_LABEL (shell) with the credential in
// MK_CREDS (rs starts it with both), opens tty minor 0 and runs the read-eval loop on the
// console. SIGTERM stops it gracefully; it exits by itself only when superseded.
import { connectClient, createLogger, exitStatus, loadCredential, onShutdown } from "#libsys";
import { TtyConsole } from "./console.ts";
import { shellDeps } from "./deps.ts";
import { PROMPT, Shell } from "./shell.ts";

const label = process.env.MK_LABEL ?? "shell";
const log = createLogger(label);
try {
  const client = await connectClient(label, loadCredential(), { log });
  let shell: Shell | undefined;
  const tty = new TtyConsole(client.sys, {
    // A new tty knows nothing of the prompt the old one showed: show it again there.
    onNewTty: (gen) => void shell?.say(`\n[tty#${gen}]\n${PROMPT}`),
  });
  shell = new Shell(tty, shellDeps(client.sys), client.sys.log);
  onShutdown(client.sys.log, async () => {
    shell?.stop();
    await client.stop();
  });
  // Not fatal: the loop follows tty until it serves (rs may still be starting it).
  await tty.open().catch((e: unknown) => client.sys.log.warn({ err: e }, "tty: open failed; reading anyway"));
  const why = await shell.loop();
  if (why === "superseded") {
    client.sys.log.warn("a newer process of %s superseded this one: ending", label);
    process.exit(1);
  }
} catch (e) {
  log.fatal({ err: e }, "the shell could not start");
  process.exit(exitStatus(e));
}
