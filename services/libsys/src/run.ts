// Process entry for user placement: connect with this service's own credential, run
// the lifecycle, and on SIGTERM stop taking work, finish in flight, drain, exit.
import { loadCredential } from "#base/credentials.ts";
import { exitStatus } from "#base/errors.ts";
import { createLogger } from "#base/log.ts";
import { NatsTransport } from "./nats-transport.ts";
import { startService, type ServiceModule } from "./service.ts";
import { onShutdown } from "#base/shutdown.ts";

export async function runUserService(module: ServiceModule): Promise<void> {
  const label = process.env.MK_LABEL ?? module.label;
  const log = createLogger(label);
  try {
    const transport = await NatsTransport.connect(label, loadCredential());
    if (process.env.MK_STANDBY === "1") {
      // A warm standby (rs keeps one for services with restart.standby): loaded and
      // connected, but no incarnation yet. SIGUSR1 from rs makes it the next one; SIGTERM
      // ends it quietly.
      log.info("standby for %s: waiting for rs to hand over", label);
      const quit = () => void transport.close().finally(() => process.exit(0));
      process.once("SIGTERM", quit);
      await new Promise<void>((resolve) => process.once("SIGUSR1", () => resolve()));
      process.removeListener("SIGTERM", quit);
      log.info("standby taking over as the next %s", label);
    }
    const running = await startService(module, transport, { log });
    onShutdown(running.sys.log, () => running.stop());
  } catch (e) {
    log.fatal({ err: e }, "could not start %s", label);
    process.exit(exitStatus(e));
  }
}
