// How every mkos party connects to NATS, and rides out the server going away: reconnect
// for ever (an outage of any length is survived), a quarter second between attempts (the
// system is whole again within about a second of the server's return), every change
// logged, and a callback on each reconnect so a party can re-announce what it holds. A
// party that starts beside the server (kernel-core and the emulator in compose) may ask
// its first connection to wait for a server that is not up yet (refused, or its name not
// known yet); a refused login is an error at once, and so is an absent server for a tool.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { prop } from "#abi";
import { type Clock, systemClock } from "./clock.ts";
import type { Credential } from "./credentials.ts";
import type { Logger } from "./log.ts";

const RECONNECT_WAIT_MS = 250;
/** How long kernel-core's and the emulator's first connection waits for a server that is starting. */
export const FIRST_CONNECT_WAIT_MS = 10_000;
const FIRST_CONNECT_RETRY_MS = 100;

/**
 * Connects as `name` with a credential; `inbox` is the connection's own reply prefix.
 * `waitMs`: how long to try again while the server is not up yet (default 0: fail at once).
 */
export async function connectNats(
  name: string,
  cred: Credential,
  inbox?: string,
  o: { clock?: Clock; waitMs?: number } = {},
): Promise<NatsConnection> {
  const clock = o.clock ?? systemClock;
  const deadline = clock.now() + (o.waitMs ?? 0);
  for (;;) {
    try {
      return await connect({
        servers: cred.servers,
        user: cred.user,
        pass: cred.password,
        name,
        inboxPrefix: inbox,
        maxReconnectAttempts: -1,
        reconnectTimeWait: RECONNECT_WAIT_MS,
        reconnectJitter: 100,
        waitOnFirstConnect: false,
      });
    } catch (e) {
      if (!serverNotUpYet(e) || clock.now() >= deadline) throw e;
      await clock.sleep(FIRST_CONNECT_RETRY_MS);
    }
  }
}

/** A connection refused, or a server name the resolver does not know yet: the server may be starting. */
function serverNotUpYet(e: unknown): boolean {
  const code = prop(e, "code") ?? prop(prop(e, "cause"), "code");
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
}

/** Logs disconnects and reconnects; calls onReconnect after each reconnect. Never throws. */
export function watchConnection(nc: NatsConnection, log: Logger, onReconnect?: () => void): void {
  void (async () => {
    let down = 0;
    let attempts = 0;
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
          down = Date.now();
          attempts = 0;
          log.warn({ server: s.server }, "NATS connection lost; reconnecting until it is back");
          break;
        case "reconnecting":
          // One line per 40 attempts (about 10 s) while the server stays away.
          if (attempts++ % 40 === 39)
            log.warn({ attempts, downMs: Date.now() - down }, "NATS still unreachable after %d attempts", attempts);
          break;
        case "reconnect":
          log.info({ server: s.server, downMs: down ? Date.now() - down : undefined }, "NATS connection back");
          try {
            onReconnect?.();
          } catch (e) {
            log.error({ err: e }, "re-announce after reconnect failed");
          }
          break;
        default:
          break;
      }
    }
  })().catch((e) => log.error({ err: e }, "NATS status watch ended"));
}
