// Process entry for user placement: connect with this service's own credential, run
// the lifecycle, and on SIGTERM stop taking work, finish in flight, drain, exit.
import { loadCredential } from "./credentials.ts";
import { createLogger } from "./log.ts";
import { NatsTransport } from "./nats-transport.ts";
import { startService, type ServiceModule } from "./service.ts";

export async function runUserService(module: ServiceModule): Promise<void> {
  const label = process.env.MK_LABEL ?? module.label;
  const log = createLogger(label);
  try {
    const transport = await NatsTransport.connect(label, loadCredential());
    const running = await startService(module, transport, { log });
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      running.sys.log.info({ signal }, "stopping");
      const hard = setTimeout(() => process.exit(1), 2000);
      hard.unref();
      running.stop().then(() => process.exit(0), () => process.exit(1));
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  } catch (e) {
    log.fatal({ err: e }, "could not start %s", label);
    process.exit(1);
  }
}
