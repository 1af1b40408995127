// Shared by the benchmark and its parties: the subjects of the no-kernel paths.
/** nats-raw: plain request/reply to the null server, no kernel in between. */
export const RAW_SUBJECT = "mk.ep.bench-echo.raw";
/** nats-relay: the relay process (bench/relay-server.ts), under the kernel user's inbox. */
export const RELAY_SUBJECT = "_INBOX.kernel.bench-relay";
/** nats-relay-3: the relay forwards with the client's reply subject; the server answers the client (reply-direct's floor). */
export const RELAY_DIRECT_SUBJECT = "_INBOX.kernel.bench-relay-direct";
