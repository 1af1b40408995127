// The dashboard's HTTP face (docs/dashboard.md): the built page, one sample of the state,
// a server-sent event stream fed from the model (pushed once a second and as events
// happen), the console as a websocket, and the token-guarded changes. Connections, streams
// and sockets are bounded in number and in what they may buffer, and Node's server
// timeouts end connections that are slow to ask or stop moving: a slow or hostile client
// is disconnected, never allowed to grow the process or lock a page out.
import { timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import type { Socket } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import fastifyStatic from "@fastify/static";
import fastifyWebsocket from "@fastify/websocket";
import { MkError, WORKLOAD_MAX_RATE } from "#abi";
import { LogLimiter, type Clock, type Logger } from "#libsys";
import { FAULTS, HW_FAULTS, type Actions } from "./actions.ts";
import { ConnectionBounds } from "./connections.ts";
import type { Model, TimelineEntry } from "./model.ts";
import { EventStreams, STREAM_BACKLOG } from "./streams.ts";

const MAX_CONSOLES = 16;
export const MAX_CONSOLES_PER_ADDRESS = 4;
const CONSOLE_FRAME_MAX = 4096;
/** Input one console may send per second before it is closed. */
const CONSOLE_INPUT_PER_S = 64 * 1024;

// Node's server timeouts (fastify passes them on). A page on loopback or a LAN sends a
// request in milliseconds; these are generous for a slow link and short for a slowloris.
/** A request's headers must have arrived whole this long after it began. */
const HEADERS_TIMEOUT_MS = 10_000;
/** The whole request, its body (at most 16 KiB) included. */
const REQUEST_TIMEOUT_MS = 20_000;
/** How often Node looks for requests past those two (its default, 30 s, lets one live 40 s more). */
const TIMEOUT_CHECK_MS = 1_000;
/** An idle kept-alive connection between two requests (Node's own default; fastify's 72 s suits load balancers). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/**
 * No byte moving either way on a connection for this long ends it: a stalled download, or a
 * stream whose client stopped reading once the kernel's buffers are full (a reading stream
 * is written every second). Above the longest the dashboard waits for the system (a kernel
 * call's 30 s).
 */
const CONNECTION_IDLE_MS = 60_000;

export interface ConsoleHub {
  /** Bytes to the UART. */
  write(bytes: Uint8Array): void;
  /** Each byte the UART sends, from now on. */
  listen(fn: (bytes: Uint8Array) => void): () => void;
}

export interface DashboardHttpOptions {
  model: Model;
  actions: Actions;
  console: ConsoleHub;
  token: string;
  /** The built page (Vite's dist/); a missing one is named on / instead. */
  dist: string;
  clock: Clock;
  log: Logger;
  /** Shipped experiments: the menu, and one started (EBUSY, ENOENT as MkError). */
  experiments?: { list(): { name: string; title: string }[]; start(name: string): void };
  /** Host names the page may be reached by (a Host or Origin naming another is refused: DNS rebinding, other sites' pages). */
  hosts: string[];
}

/** Counts per remote address, for the consoles' per-address limit. */
class PerAddress {
  private readonly n = new Map<string, number>();
  take(addr: string, max: number): boolean {
    const k = this.n.get(addr) ?? 0;
    if (k >= max) return false;
    this.n.set(addr, k + 1);
    return true;
  }
  give(addr: string): void {
    const k = (this.n.get(addr) ?? 1) - 1;
    if (k <= 0) this.n.delete(addr);
    else this.n.set(addr, k);
  }
}

function statusOf(e: MkError): number {
  if (e.errno === "EACCES") return 401;
  if (e.errno === "EAGAIN") return 503;
  if (e.errno === "EINVAL" || e.errno === "EBADREQUEST") return 400;
  if (e.errno === "ECALLDENIED" || e.errno === "EPERM") return 403;
  if (e.errno === "ESRCH" || e.errno === "EBADSRCDST" || e.errno === "ENOENT") return 404;
  if (e.errno === "EBUSY") return 409;
  if (e.errno === "ENOSYS" || e.errno === "ENOTREADY") return 503;
  return 502; // the system behind the dashboard answered with an error, or not at all
}

export async function buildDashboardHttp(
  o: DashboardHttpOptions,
): Promise<{ app: FastifyInstance; broadcast: (event: string, data: unknown) => void }> {
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeout: CONNECTION_IDLE_MS,
    http: { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
  });
  const limiter = new LogLimiter(o.clock);
  const connections = new ConnectionBounds({
    onLimit: (what, bound, addr) =>
      limiter.allow(o.log, `connection-${what}`, () =>
        o.log.warn(
          { bound, addr },
          what === "evicted"
            ? "connection bound (%s) reached: an idle connection is closed for a new one"
            : "connection bound (%s) reached and every connection busy: a new one refused",
          bound,
        ),
      ),
  });
  app.server.on("connection", (socket: Socket) => connections.admit(socket));
  // Busy once a whole request is in (a slow body stays evictable), idle again once answered.
  app.addHook("preHandler", async (req) => connections.busy(req.raw.socket));
  app.addHook("onResponse", async (req) => connections.idle(req.raw.socket));
  const token = Buffer.from(o.token);
  const tokenOk = (given: string | undefined): boolean => {
    if (!given) return false;
    const b = Buffer.from(given);
    return b.length === token.length && timingSafeEqual(b, token);
  };
  const requireToken = (req: FastifyRequest): void => {
    const h = req.headers.authorization;
    const given = typeof h === "string" && h.startsWith("Bearer ") ? h.slice(7).trim() : undefined;
    if (!tokenOk(given))
      throw new MkError(
        "EACCES",
        given
          ? "the token is wrong: use the one the dashboard printed at start-up"
          : "changing anything needs the token the dashboard printed at start-up (Authorization: Bearer <token>)",
      );
  };

  app.setErrorHandler((e: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (e instanceof MkError)
      return reply.code(statusOf(e)).send({ error: { code: e.errno, message: e.message, ...(e.detail ? { detail: e.detail } : {}) } });
    // fastify's own refusals: a body that is not JSON, too large, a wrong content type.
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: { code: "EINVAL", message: e.message } });
    limiter.allow(o.log, "http-error", () => o.log.error({ err: e }, "dashboard request failed"));
    return reply.code(500).send({ error: { code: "EIO", message: e.message } });
  });

  // Only the names the dashboard is published under: a page of another site (its Origin)
  // or a rebound DNS name (the Host) reaches nothing, not even what reading allows.
  const allowed = new Set(o.hosts.map((h) => h.toLowerCase()));
  const hostOk = (value: string | undefined): boolean => {
    if (value === undefined) return true;
    const name = value.replace(/:\d+$/, "").toLowerCase();
    return allowed.has(name);
  };
  app.addHook("onRequest", async (req) => {
    const origin = req.headers.origin;
    let originHost: string | undefined;
    try {
      originHost = origin === undefined ? undefined : new URL(origin).host;
    } catch {
      originHost = "?";
    }
    if (!hostOk(req.headers.host) || !hostOk(originHost))
      throw new MkError("EACCES", `the dashboard answers only as ${[...allowed].join(", ")} (MK_DASHBOARD_URL names another)`);
  });

  await app.register(fastifyWebsocket, { options: { maxPayload: CONSOLE_FRAME_MAX } });

  app.get("/api/state", async () => o.model.state());
  app.get("/api/meta", async () => ({
    labels: o.actions.targets(),
    faults: FAULTS,
    hw_faults: HW_FAULTS,
    experiments: o.experiments?.list() ?? [],
    workload: { max_rate: WORKLOAD_MAX_RATE },
  }));
  // Each fault injected from the page goes on the timeline, beside the deaths it causes.
  app.post("/api/chaos", async (req) => {
    requireToken(req);
    const note = await o.actions.chaos(req.body);
    const target = (req.body as { target?: unknown }).target;
    o.model.record({
      kind: "fault",
      label: typeof target === "string" ? target : null,
      generation: null,
      cause: null,
      mttr_ms: null,
      text: note,
    });
    return { ok: true, note };
  });
  app.post("/api/hwfault", async (req) => {
    requireToken(req);
    const note = await o.actions.hwfault(req.body);
    o.model.record({ kind: "hw-fault", label: "hardware", generation: null, cause: null, mttr_ms: null, text: note });
    return { ok: true, note };
  });
  app.post("/api/workload", async (req) => {
    requireToken(req);
    const rate = await o.actions.workloadRate(req.body);
    o.model.record({
      kind: "workload",
      label: "workload",
      generation: null,
      cause: null,
      mttr_ms: null,
      text: `workload rate set to ${rate}/s`,
    });
    return { ok: true, rate };
  });

  // One request followed hop by hop (the latency panel's waterfall): it sends requests, so it takes the token.
  app.post("/api/trace", async (req) => {
    requireToken(req);
    return o.actions.trace(req.body);
  });

  app.post<{ Params: { name: string } }>("/api/experiments/:name", async (req, reply) => {
    requireToken(req);
    if (!o.experiments) throw new MkError("ENOSYS", "this dashboard runs no experiments");
    o.experiments.start(req.params.name);
    reply.code(202);
    return { ok: true };
  });

  // Server-sent events: one shared serialisation of each state, written to every stream.
  const streams = new EventStreams();
  app.get("/api/stream", (req: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write("retry: 1000\n\n");
    streams.add(res, req.ip);
    streams.send(res, "state", JSON.stringify(o.model.state()));
    streams.send(res, "history", JSON.stringify(o.model.history()));
  });
  const stopTimeline = o.model.onTimeline((e: TimelineEntry) => streams.broadcast("timeline", JSON.stringify(e)));
  const tick = () => {
    try {
      if (streams.size > 0) streams.broadcast("state", JSON.stringify(o.model.state()));
    } catch (e) {
      limiter.allow(o.log, "tick", () => o.log.error({ err: e }, "state not pushed"));
    } finally {
      timer = o.clock.setTimeout(tick, 1000);
    }
  };
  let timer = o.clock.setTimeout(tick, 1000);
  /** An experiment's start or end, for every stream. */
  const broadcast = (event: string, data: unknown): void => streams.broadcast(event, JSON.stringify(data));

  // The console: binary frames both ways; input only with the token, bounded per second.
  let consoles = 0;
  const consolesBy = new PerAddress();
  /**
   * Read-only consoles, oldest first, with the bookkeeping to give their places back: a
   * console with the token takes the place of the oldest read-only one at a bound (anyone
   * on loopback can open read-only consoles; they must not lock the operator out).
   */
  const readOnly = new Map<{ terminate(): void }, { addr: string; release: () => void }>();
  const evictReadOnly = (addr?: string): boolean => {
    for (const [sock, r] of readOnly) {
      if (addr !== undefined && r.addr !== addr) continue;
      r.release();
      sock.terminate();
      return true;
    }
    return false;
  };
  app.get("/api/console", { websocket: true }, (socket, req) => {
    const q = req.query as { token?: unknown };
    const control = tokenOk(typeof q.token === "string" ? q.token : undefined);
    const addr = req.ip;
    if (control && consoles >= MAX_CONSOLES) evictReadOnly();
    let placed = consoles < MAX_CONSOLES && consolesBy.take(addr, MAX_CONSOLES_PER_ADDRESS);
    if (!placed && control && consoles < MAX_CONSOLES && evictReadOnly(addr)) placed = consolesBy.take(addr, MAX_CONSOLES_PER_ADDRESS);
    if (!placed) {
      socket.close(1013, "too many consoles open");
      return;
    }
    consoles++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      readOnly.delete(socket);
      consoles--;
      consolesBy.give(addr);
    };
    if (!control) readOnly.set(socket, { addr, release });
    const off = o.console.listen((bytes) => {
      if (socket.bufferedAmount > STREAM_BACKLOG) socket.terminate();
      else socket.send(bytes);
    });
    socket.send(
      JSON.stringify({
        notice: control
          ? "console attached: typing reaches the mkos shell"
          : "console attached read-only: open the page with ?token= to type",
      }),
    );
    let windowStart = o.clock.now();
    let windowBytes = 0;
    socket.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (!isBinary) {
        socket.close(1003, "input is binary frames of bytes");
        return;
      }
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (!control) {
        // Said once, then closed: a read-only socket that keeps typing would queue replies without end.
        socket.send(JSON.stringify({ error: { code: "EACCES", message: "typing needs the token the dashboard printed at start-up" } }));
        socket.close(1008, "input needs the token");
        return;
      }
      const now = o.clock.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        windowBytes = 0;
      }
      windowBytes += bytes.length;
      if (windowBytes > CONSOLE_INPUT_PER_S) {
        socket.close(1008, `more than ${CONSOLE_INPUT_PER_S} bytes of input in a second`);
        return;
      }
      o.console.write(bytes);
    });
    socket.on("close", () => {
      release();
      off();
    });
    socket.on("error", () => socket.terminate());
  });

  if (existsSync(o.dist)) {
    await app.register(fastifyStatic, { root: o.dist, index: ["index.html"], cacheControl: true, maxAge: 0 });
  } else {
    app.get("/", async (_req, reply) =>
      reply
        .code(503)
        .type("text/plain")
        .send(
          `The dashboard's page is not built (${o.dist} is missing): run npm run build:dashboard, then start the dashboard again (npx mkctl start dashboard)\n`,
        ),
    );
  }

  app.addHook("onClose", async () => {
    timer.cancel();
    stopTimeline();
    streams.endAll();
  });
  return { app, broadcast };
}
