// The service lifecycle (MINIX's SEF): announce the new incarnation to the kernel, learn
// whether this is a fresh start or a restart (and of which generation), run the matching
// init callback, then serve. Requests wait for init to finish, then queue per caller
// (server-queue.ts: bounded, round robin); a send is acknowledged once queued.
// Notifications (interrupts) are delivered at once. When kernel-core restarts, the
// incarnation registers again with the new kernel under the same generation and runs its
// init again (the new kernel remembers nothing it had set up, such as IRQ policies).
import { hostname } from "node:os";
import {
  Common,
  hasLayout,
  Kind,
  MkError,
  parseRequestArgs,
  SysCall as K,
  typeName,
  type Delivered,
  type LayoutType,
  type Reply,
  type ReqArgs,
} from "#abi";
import { systemClock, type Clock, type Timer } from "#base/clock.ts";
import { createLogger, type Logger } from "#base/log.ts";
import { isSampled, withCalls, withTrace } from "#base/trace.ts";
import type { Transport } from "#base/transport.ts";
import { sysIpcstat } from "./calls/sys-ipcstat.ts";
import { FaultHooks } from "./crash-hook.ts";
import { ServerQueue, type QueueLimits } from "./server-queue.ts";
import { SysImpl, type Sys } from "./sys.ts";

/** A request after its arguments were checked against its type's layout: typed by it. */
type Request<T extends LayoutType = LayoutType> = Omit<Delivered, "args"> & { readonly args: ReqArgs<T> };
type Handler<T extends LayoutType = LayoutType> = (req: Request<T>) => Promise<Reply | undefined> | Reply | undefined;
/** Message type -> its handler, each typed by its own layout. */
type Handlers = { [T in LayoutType]?: Handler<T> };

export interface Server {
  /** Message type -> handler. Types without one answer ENOSYS. */
  handlers: Handlers;
  /** How many requests run at once (1: one at a time, in arrival order per caller). */
  concurrency?: number;
  /**
   * Asked as a request leaves the queue, before it runs: true when the server knows its
   * caller's incarnation is dead (from the kernel's events), so no one waits for the
   * answer. It is not run; its answer is EDEADSRCDST, which reaches no one.
   */
  drop?(req: Delivered): boolean | Promise<boolean>;
  /** Coalesced notification bits (IRQs arrive from "hardware"). */
  notify?(source: string, bits: number): void;
  /** First start of this label since boot. */
  initFresh?(): Promise<void>;
  /** A restart: an earlier incarnation (previous generation) existed and is gone. */
  initRestart?(previousGeneration: number): Promise<void>;
  /** kernel-core restarted: this incarnation is registered again; set up again what the kernel held (IRQ policies). Default: initRestart. */
  initKernelRestart?(): Promise<void>;
  /** A stop began: end what waits on something that will not come now (a character device's pending reads), so in-flight work can finish. */
  interrupt?(): void;
  /** Graceful stop: finish in-flight work. */
  shutdown?(): Promise<void>;
}

/** How often a process reports its round trips by path (SYS_IPCSTAT). */
const IPCSTAT_EVERY_MS = 1000;
/** A report held back while requests are in flight is sent anyway after this long. */
const IPCSTAT_HELD_MAX_MS = 10_000;

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
  queue?: Partial<QueueLimits>;
  /**
   * A newer incarnation of the label registered with a restarted kernel-core first: this
   * one is superseded. Default: the process exits (a service is one process). A client in
   * a process that hosts other things (a tool, a test) closes its connection instead.
   */
  onSuperseded?: (e: MkError) => void;
}

export async function startService(module: ServiceModule, transport: Transport, opts: StartOptions = {}): Promise<RunningService> {
  const clock = opts.clock ?? systemClock;
  let log = opts.log ?? createLogger(transport.label);
  const sys = new SysImpl(transport, log, clock);
  const server = module.create(sys);
  const queue = new ServerQueue({ ...(server.concurrency ? { concurrency: server.concurrency } : {}), ...opts.queue });
  // The connection's name lets the kernel tell this process's death from another's,
  // across NATS restarts (NATS client ids start again from 1 on a new server).
  const conn = transport.connection();
  const hello = (resume?: number) =>
    sys.kernelCall(K.SYS_HELLO, {
      pid: process.pid,
      host: hostname().slice(0, 255),
      ...(conn ? { conn } : {}),
      ...(resume ? { resume } : {}),
    });

  const first = await hello();
  transport.useChannels?.(first.args.channels ?? []);
  sys.generation = first.args.generation;
  sys.kernelBoot = first.args.boot;
  let kernelBoot = first.args.boot;
  log = log.child({ endpoint: sys.self });
  (sys as { log: Logger }).log = log;
  if (log.isLevelEnabled("debug")) transport.log = log;

  let markReady!: () => void;
  let ready = new Promise<void>((r) => (markReady = r));
  let stopping = false;
  let inflight = 0;
  let idle: (() => void) | undefined;

  const faults = new FaultHooks(transport.label);
  const handle = async (msg: Delivered): Promise<Reply | undefined> => {
    inflight++;
    try {
      if (server.drop && (await server.drop(msg)))
        throw new MkError("EDEADSRCDST", `${msg.source} is dead: its ${typeName(msg.type)} was dropped, not run`);
      faults.before(msg.type);
      // A sampled trace (mkctl trace) gets back the trails of the calls made for it; others pay nothing.
      const calls: string[] | undefined = isSampled(msg.trace) ? [] : undefined;
      const reply = await withTrace(msg.trace, () => (calls ? withCalls(calls, () => dispatch(server, msg)) : dispatch(server, msg)));
      const after = await faults.after(reply, (ms) => clock.sleep(ms));
      return calls && calls.length > 0 ? { ...after, calls } : after;
    } finally {
      if (--inflight === 0) idle?.();
    }
  };

  await transport.listen(sys.generation, {
    async deliver(msg: Delivered): Promise<Reply | undefined> {
      await ready;
      if (stopping) throw new MkError("ENOTREADY", `${sys.self} is shutting down`);
      // The heartbeat is answered from the event loop, ahead of queued work: a busy server
      // still answers, a hung one (blocked loop, SIGSTOP) does not.
      if (msg.type === Common.COMMON_HEARTBEAT) return {};
      // Only a caller with the chaos privilege can reach this (the kernel refuses others).
      if (msg.type === Common.COMMON_FAULT) {
        faults.arm(parseRequestArgs(Common.COMMON_FAULT, msg.args));
        log.warn({ fault: msg.args, source: msg.source }, "fault armed by %s", msg.source);
        return {};
      }
      const caller = msg.source.split("#")[0];
      if (msg.kind !== Kind.SEND) return queue.push(caller, msg.data.length, () => handle(msg));
      // A send is acknowledged once it is queued; its outcome is the server's alone.
      queue
        .push(caller, msg.data.length, () => handle(msg))
        .catch((e) => {
          if (!(e instanceof MkError)) return transport.panic(e);
          log.debug({ msgType: typeName(msg.type), reqId: msg.reqId, source: msg.source, err: e.errno }, "send refused: %s", e.message);
        });
      return undefined;
    },
    // Notifications are not held back: a driver waits for interrupts during its own init.
    notify(source: string, bits: number) {
      server.notify?.(source, bits);
    },
  });

  // A new kernel-core: register again as the same incarnation, and set up again.
  let rejoining = false;
  transport.watchKernel?.(async (boot) => {
    if (boot === kernelBoot || rejoining || stopping) return;
    rejoining = true;
    ready = new Promise<void>((r) => (markReady = r));
    try {
      const again = await hello(sys.generation);
      transport.useChannels?.(again.args.channels ?? []);
      kernelBoot = again.args.boot;
      sys.kernelBoot = kernelBoot;
      log.info({ kernelBoot }, "kernel-core restarted: registered again as %s", sys.self);
      await (server.initKernelRestart ?? (() => (server.initRestart ?? server.initFresh)?.call(server, sys.generation)))?.call(server);
      await sys.kernelCall(K.SYS_READY, {});
    } catch (e) {
      if (e instanceof MkError && e.errno === "EDEADSRCDST") {
        log.warn({ err: e.message }, "a newer incarnation registered with the new kernel first: this one is superseded");
        if (!opts.onSuperseded) transport.panic(e);
        stopping = true;
        opts.onSuperseded(e);
        return;
      }
      log.error({ err: e }, "registering with the new kernel failed; will try at its next announcement");
      kernelBoot = "";
    } finally {
      rejoining = false;
      markReady();
    }
  });

  if (first.args.previous > 0) {
    log.info({ previous: first.args.previous }, "restart: previous incarnation was %s#%d", transport.label, first.args.previous);
    await (server.initRestart ?? server.initFresh)?.call(server, first.args.previous);
  } else {
    await server.initFresh?.();
  }
  await sys.kernelCall(K.SYS_READY, {});
  markReady();
  log.info({ placement: transport.placement }, "serving as %s", sys.self);

  // The round trips of this process's sendrecs, by path, to the kernel about a second
  // after the first one not yet reported: the only party that sees a reply-direct or
  // channel round trip whole. An idle process has no timer for it. Not while a request of
  // its own is in flight (a program blocked in sendrec stays blocked: no trap of its own
  // wakes it), unless that lasts IPCSTAT_HELD_MAX_MS; and never again once the kernel says
  // this incarnation is not the live one (superseded).
  let reporting: Timer | undefined;
  let superseded = false;
  let heldSince: number | undefined;
  /** Round trips were counted while a report was under way: another is due after it. */
  let again = false;
  const reportPaths = (): void => {
    if (reporting) again = true;
    if (reporting || stopping || superseded) return;
    reporting = clock.setTimeout(async () => {
      const busy = (transport.inFlight?.() ?? 0) > 0;
      if (busy) heldSince ??= clock.now();
      if (busy && clock.now() - (heldSince ?? 0) < IPCSTAT_HELD_MAX_MS) {
        reporting = undefined;
        again = false;
        return reportPaths();
      }
      heldSince = undefined;
      const rows = transport.takePathStats?.() ?? [];
      if (rows.length > 0 && !stopping)
        await sysIpcstat(sys, rows).catch((e: unknown) => {
          superseded = e instanceof MkError && e.errno === "EDEADSRCDST";
          log.debug({ err: e instanceof Error ? e.message : String(e) }, "round trips by path not reported");
        });
      reporting = undefined;
      if (again) {
        again = false;
        reportPaths();
      }
    }, IPCSTAT_EVERY_MS);
  };
  transport.onPathStats?.(reportPaths);

  let stopped: Promise<void> | undefined;
  return {
    sys,
    server,
    stop() {
      // Once: a second stop waits for the first instead of trapping on a closed connection.
      stopped ??= (async () => {
        stopping = true;
        reporting?.cancel();
        server.interrupt?.();
        if (inflight > 0) await new Promise<void>((r) => (idle = r));
        await server.shutdown?.();
        // Said before the connection closes, so the kernel records a stop, not a crash.
        await sys.kernelCall(K.SYS_EXIT, {}, undefined, 1000).catch(() => undefined);
        await transport.close();
      })();
      return stopped;
    },
  };
}

async function dispatch(server: Server, msg: Delivered): Promise<Reply | undefined> {
  if (!hasLayout(msg.type)) throw new MkError("EBADREQUEST", `unknown message type 0x${msg.type.toString(16)}`);
  return handle(server.handlers, msg.type, msg);
}

/** The handler for one message type, given the arguments parsed by that type's layout. */
function handle<T extends LayoutType>(handlers: Handlers, type: T, msg: Delivered): Promise<Reply | undefined> | Reply | undefined {
  const args = parseRequestArgs(type, msg.args);
  const handler: Handler<T> | undefined = handlers[type];
  if (!handler) {
    if (type === Common.COMMON_PING || type === Common.COMMON_HEARTBEAT) return {};
    throw new MkError("ENOSYS", `${typeName(type)} is not handled here`);
  }
  return handler({ ...msg, args });
}
