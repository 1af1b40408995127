// The NATS authorization generated from the privilege table. Each service is a NATS user
// that may publish only its own trap subject and answers (into the kernel's answer inbox,
// and the sub-inbox for direct answers of the labels on a fast path to it), and subscribe
// only its own endpoint subjects and inbox. Only the kernel touches mk.hw.>, and
// only the kernel publishes the event stream mk.ev.>, which services with `events` read.
// The kernel's second user lives in the system account, to see client disconnects.
// The config holds bcrypt hashes, not passwords: only each service's own credential file
// holds its password.
import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EventSubjects, KERNEL, RsEventSubjects, StatSubjects, Subjects } from "#abi";
import type { SystemTable } from "#base/system-table.ts";

import { CHANNEL_USER_SUFFIX, channelUser, HARDWARE_USER, MK_ACCOUNT, SYS_USER, type Credential } from "#base/credentials.ts";
import { LocalError } from "#base/errors.ts";

export { HARDWARE_USER, SYS_USER, type Credential };

interface Permissions {
  publish: string[];
  subscribe: string[];
  allowResponses: boolean;
}

/** ipcPath: MK_IPC_PATH of the run the config is for (reply-direct lets every pair answer directly). */
export function permissionsFor(table: SystemTable, user: string, o: { ipcPath?: string } = {}): Permissions {
  if (user === KERNEL) {
    return {
      publish: [
        "mk.ep.>",
        Subjects.hwIo,
        Subjects.hwFault,
        Subjects.kernelBoot,
        Subjects.kernelDead,
        EventSubjects.all,
        StatSubjects.stat,
        "_INBOX.>",
      ],
      subscribe: [Subjects.trapWildcard, Subjects.hwIrqWildcard, Subjects.hwBoot, `${Subjects.inboxPrefix(KERNEL)}.>`],
      allowResponses: false,
    };
  }
  if (user === HARDWARE_USER) {
    // It answers the kernel's bus requests (into the kernel's bus inbox) and nothing else:
    // console input, which users with the console privilege publish, comes with reply
    // subjects of their choosing, and a response grant would let them use its rights.
    return {
      publish: [Subjects.hwIrqWildcard, Subjects.hwBoot, Subjects.consoleOut, `${Subjects.inboxPrefix(KERNEL)}.hw.>`],
      subscribe: [Subjects.hwIo, Subjects.hwFault, Subjects.consoleIn],
      allowResponses: false,
    };
  }
  const served = channelServer(table, user);
  if (served) {
    // A server's second user, for its channels only: it reads them and answers into each
    // caller's channel inbox for it, and nothing else. No response grants: a caller picks
    // the reply subject of what it publishes on a channel, and a grant to answer it would
    // let a caller and a server together publish once anywhere (a trap as another label,
    // the hardware bus). The kernel alone hands reply subjects to the server's own user.
    const callers = [...table.services.values()].filter((s) => s.paths.get(served) === "channel").map((s) => s.label);
    return {
      publish: callers.map((c) => Subjects.channelReplies(c, served)),
      subscribe: [Subjects.channelsOf(served)],
      allowResponses: false,
    };
  }
  const svc = table.services.get(user);
  if (!svc) throw new LocalError("MK_ERR_UNKNOWN_PART", `no service ${user} in ${table.file}`);
  const publish = [Subjects.trap(user)];
  // Each run of a tool with instances traps as label.id (its own endpoint, same privileges).
  if (svc.instances > 0) publish.push(Subjects.trapInstances(user));
  // Answers, by standing grant and not NATS's response grants (allow_responses): a service
  // reads its inbox, where servers answer it on the fast paths with reply subjects of their
  // choosing, and a response grant would let a server and a caller together publish once
  // anywhere (a trap as another label). It answers what kernel-core forwards (into the
  // kernel's answer inbox, not its bus inbox) and, by reply-direct, the labels whose table
  // entry puts the pair on reply-direct or channel (which falls back to it), or every label
  // whose ipc names it when the run says MK_IPC_PATH=reply-direct: only into their sub-inbox
  // for such answers. Request ids and inbox prefixes are random (RequestMux): the grant
  // lets it answer what it was asked, not another's request.
  publish.push(`${Subjects.kernelAnswers}.>`);
  for (const caller of table.services.values()) {
    if (caller.label === user || !caller.ipc.includes(user)) continue;
    const path = caller.paths.get(user);
    if (o.ipcPath !== "reply-direct" && path !== "reply-direct" && path !== "channel") continue;
    publish.push(`${Subjects.directInbox(caller.label)}.>`);
    if (caller.instances > 0) publish.push(`${Subjects.directInbox(`${caller.label}.*`)}.>`);
  }
  const subscribe = [Subjects.endpointWildcard(user), `${Subjects.inboxPrefix(user)}.>`, Subjects.kernelBoot, Subjects.kernelDead];
  // Channels (paths: channel): the caller publishes only its own side of the pair's subject;
  // the server reads them with its channel user (below), never with this one.
  for (const [dst, path] of svc.paths) if (path === "channel") publish.push(Subjects.channelsFrom(dst, user));
  if (svc.events) subscribe.push(EventSubjects.all, RsEventSubjects.all);
  if (svc.metrics) subscribe.push(StatSubjects.stat);
  // rs's own events: only rs publishes them.
  if (user === "rs") publish.push(RsEventSubjects.all);
  if (svc.console) {
    publish.push(Subjects.consoleIn);
    subscribe.push(Subjects.consoleOut);
  }
  return { publish, subscribe, allowResponses: false };
}

function q(s: string): string {
  return JSON.stringify(s);
}

// The passwords are 144 random bits, so the work factor adds nothing against guessing; the
// hash only keeps them out of the config file. Low, because nats-server pays it on every
// connect. "$2a$": nats-server before 2.10 recognises only that prefix, and for passwords
// this short $2a$ and $2b$ (bcryptjs's default) compute the same hash.
const BCRYPT_COST = 6;

function hashPassword(password: string): string {
  return bcrypt.hashSync(password, BCRYPT_COST).replace(/^\$2b\$/, "$2a$");
}

function userBlock(user: string, password: string, p: Permissions | undefined): string {
  if (!p) return `      { user: ${q(user)}, password: ${q(password)} }`;
  const list = (xs: string[]) => `[${xs.map(q).join(", ")}]`;
  return [
    `      { user: ${q(user)}, password: ${q(password)}, permissions: {`,
    `          publish: { allow: ${list(p.publish)} }`,
    `          subscribe: { allow: ${list(p.subscribe)} }`,
    p.allowResponses ? `          allow_responses: true` : "",
    `      } }`,
  ]
    .filter(Boolean)
    .join("\n");
}

export interface NatsAuthOptions {
  /** Where clients reach the server, e.g. nats://127.0.0.1:4222. */
  clientUrl: string;
  /** `listen` line, e.g. 127.0.0.1:4222 or 0.0.0.0:4222. */
  listen: string;
  /** Monitoring endpoint (`http`), or undefined for none. */
  monitor?: string;
  /** Fixed passwords (tests); random otherwise. */
  passwords?: Map<string, string>;
  /** MK_IPC_PATH of the run (table, trap, reply-direct): which pairs may answer directly. */
  ipcPath?: string;
}

export interface NatsAuth {
  config: string;
  credentials: Map<string, Credential>;
}

/** Every NATS user the table implies: kernel, hardware, sys, one per service, and a channel user per service that takes channels. */
export function natsUsers(table: SystemTable): string[] {
  const channelled = [...table.services.keys()].filter((label) =>
    [...table.services.values()].some((s) => s.paths.get(label) === "channel"),
  );
  return [KERNEL, HARDWARE_USER, SYS_USER, ...table.services.keys(), ...channelled.map(channelUser)];
}

/** The label whose channel user `user` is (`vfs@ch`: vfs), or undefined. */
function channelServer(table: SystemTable, user: string): string | undefined {
  if (!user.endsWith(CHANNEL_USER_SUFFIX)) return undefined;
  const label = user.slice(0, -CHANNEL_USER_SUFFIX.length);
  return table.services.has(label) ? label : undefined;
}

export function generateNatsAuth(table: SystemTable, opts: NatsAuthOptions): NatsAuth {
  const credentials = new Map<string, Credential>();
  for (const user of natsUsers(table)) {
    const password = opts.passwords?.get(user) ?? randomBytes(18).toString("base64url");
    credentials.set(user, { user, password, servers: [opts.clientUrl] });
  }
  const mkUsers = natsUsers(table)
    .filter((u) => u !== SYS_USER)
    .map((u) => userBlock(u, hashPassword(credentials.get(u)!.password), permissionsFor(table, u, { ipcPath: opts.ipcPath })));
  const config = [
    `# generated from ${table.file} by mkos; do not edit`,
    `listen: ${q(opts.listen)}`,
    opts.monitor ? `http: ${q(opts.monitor)}` : "",
    `max_payload: 1048576`,
    `accounts: {`,
    `  ${MK_ACCOUNT}: {`,
    `    users: [`,
    mkUsers.join(",\n"),
    `    ]`,
    `  }`,
    `  SYS: {`,
    `    users: [`,
    userBlock(SYS_USER, hashPassword(credentials.get(SYS_USER)!.password), undefined),
    `    ]`,
    `  }`,
    `}`,
    `system_account: SYS`,
    "",
  ]
    .filter((l) => l !== "")
    .join("\n");
  return { config, credentials };
}

/** Writes `<dir>/<user>.json` for every credential, readable by the owner only. */
export function writeCredentials(dir: string, creds: Map<string, Credential>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [user, c] of creds) writeFileSync(join(dir, `${user}.json`), `${JSON.stringify(c)}\n`, { mode: 0o600 });
}
