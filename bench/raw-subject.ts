// Shared by the benchmark and its parties: the subjects of the no-kernel paths.
/** nats-raw: plain request/reply to the null server, no kernel in between. */
export const RAW_SUBJECT = "mk.ep.bench-echo.raw";
/** nats-relay: the relay process (bench/relay-server.ts), under the kernel user's inbox. */
export const RELAY_SUBJECT = "_INBOX.kernel.bench-relay";
