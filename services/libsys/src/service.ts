// The service lifecycle (MINIX's SEF): announce the new incarnation to the kernel, learn
// whether this is a fresh start or a restart (and of which generation), run the matching
// init callback, then serve. Requests that arrive during init wait for it to finish;
// notifications (interrupts) are delivered at once.
import { hostname } from "node:os";
import {
  Common, hasLayout, MkError, parseRequestArgs, Sys as K, typeName,
  type Args, type Delivered, type Reply,
} from "#abi";
import { systemClock, type Clock } from "#base/clock.ts";
import { createLogger, type Logger } from "#base/log.ts";
import { SysImpl, type Sys } from "./sys.ts";
import type { Transport } from "#base/transport.ts";

/** A request after its arguments were checked against the type's layout. */
export type Request = Delivered;
export type Handler = (req: Request) => Promise<Reply | undefined> | Reply | undefined;

export interface Server {
  /** Message type -> handler. Types without one answer ENOSYS. */
  handlers: Partial<Record<number, Handler>>;
  /** Coalesced notification bits (IRQs arrive from "hardware"). */
  notify?(source: string, bits: number): void;
  /** First start of this label since boot. */
  initFresh?(): Promise<void>;
  /** A restart: an earlier incarnation (previous generation) existed and is gone. */
  initRestart?(previousGeneration: number): Promise<void>;
  /** Graceful stop: finish in-flight work. */
  shutdown?(): Promise<void>;
}

/** What a driver or server module exports: the same object runs in either placement. */
export interface ServiceModule {
  readonly label: string;
  create(sys: Sys): Server;
}

export interface RunningService {
  readonly sys: Sys;
  readonly server: Server;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  clock?: Clock;
}

export async function startService(module: ServiceModule, transport: Transport, opts: StartOptions = {}): Promise<RunningService> {
  const clock = opts.clock ?? systemClock;
  let log = opts.log ?? createLogger(transport.label);
  const sys = new SysImpl(transport, log, clock);
  const server = module.create(sys);

  const hello = await sys.kernelCall(K.SYS_HELLO, { pid: process.pid, host: hostname().slice(0, 255), cid: transport.connectionId() });
  sys.generation = hello.args.generation;
  log = log.child({ endpoint: sys.self });
  (sys as { log: Logger }).log = log;
  if (log.isLevelEnabled("debug")) transport.log = log;

  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  let stopping = false;
  let inflight = 0;
  let idle: (() => void) | undefined;

  await transport.listen(sys.generation, {
    async deliver(msg: Delivered): Promise<Reply | undefined> {
      await ready;
      if (stopping) throw new MkError("ENOTREADY", `${sys.self} is shutting down`);
      inflight++;
      try {
        return await dispatch(server, msg);
      } finally {
        if (--inflight === 0) idle?.();
      }
    },
    // Notifications are not held back: a driver waits for interrupts during its own init.
    notify(source: string, bits: number) {
      server.notify?.(source, bits);
    },
  });

  if (hello.args.previous > 0) {
    log.info({ previous: hello.args.previous }, "restart: previous incarnation was %s#%d", transport.label, hello.args.previous);
    await (server.initRestart ?? server.initFresh)?.call(server, hello.args.previous);
  } else {
    await server.initFresh?.();
  }
  await sys.kernelCall(K.SYS_READY, {});
  markReady();
  log.info({ placement: transport.placement }, "serving as %s", sys.self);

  return {
    sys,
    server,
    async stop() {
      stopping = true;
      if (inflight > 0) await new Promise<void>((r) => (idle = r));
      await server.shutdown?.();
      await transport.close();
    },
  };
}

async function dispatch(server: Server, msg: Delivered): Promise<Reply | undefined> {
  if (!hasLayout(msg.type)) throw new MkError("EBADREQUEST", `unknown message type 0x${msg.type.toString(16)}`);
  const args: Args = parseRequestArgs(msg.type, msg.args);
  const handler = server.handlers[msg.type];
  if (!handler) {
    if (msg.type === Common.COMMON_PING) return {};
    throw new MkError("ENOSYS", `${typeName(msg.type)} is not handled here`);
  }
  return handler({ ...msg, args });
}
