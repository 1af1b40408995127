// The one registry of local errors: every error a part raises that is not an errno on the
// wire (those are MkError, kernel-core/abi/errno.ts). Each has a stable code, the part
// that raises it, what it means, what to do, the status a process exits with when the
// error stops it, and the errno it becomes if it crosses the wire. Callers test `code`
// (isLocalError), never the message or a class from another module. docs/errors.md
// documents each row; tests/unit/errors-doc.test.ts keeps the two in step.
import { isMkError, MkError, type ErrDetail, type ErrnoName } from "#abi";

/** sysexits(3) statuses: what a process exits with when an error stops it. */
export const ExitStatus = {
  FAILURE: 1, // the system answered, with an errno: no such file, not empty, refused (as ls and rm exit)
  USAGE: 64, // EX_USAGE: the command line is wrong
  UNAVAILABLE: 69, // EX_UNAVAILABLE: something needed is missing, not running, taken, or did not answer in time
  SOFTWARE: 70, // EX_SOFTWARE: a bug in mkos, or an error no row expects to end a process
  CONFIG: 78, // EX_CONFIG: the privilege table, a credential or the environment is wrong
} as const;
export type ExitStatus = (typeof ExitStatus)[keyof typeof ExitStatus];

export interface LocalErrorInfo {
  /** The part (and where in it) that raises the error. */
  raisedBy: string;
  exit: ExitStatus;
  /** The errno it becomes when it crosses the wire (toMkError); none: it never should. */
  errno?: Exclude<ErrnoName, "OK">;
  meaning: string;
  action: string;
}

const table = {
  // Every part, at start
  MK_ERR_SYSTEM_TABLE: {
    raisedBy: "privilege-table loader: kernel-core and the emulator at start, `mkctl up` and `gen-config`",
    exit: ExitStatus.CONFIG,
    meaning:
      "the privilege table cannot be read or is not valid; the error's `file` and `line` (and the message) name where, and the message names the key and the offending value",
    action: "fix that line of the table (`MK_SYSTEM`, `--system`, default `etc/system.yaml`)",
  },
  MK_ERR_CREDENTIAL: {
    raisedBy: "credential loader: every part at start",
    exit: ExitStatus.CONFIG,
    meaning: "`MK_CREDS` is not set, or the file it names (`file`) cannot be read or lacks user, password and servers",
    action: "point `MK_CREDS` at the service's own credential (`creds/<label>.json` in the run directory, or compose's config volume)",
  },
  MK_ERR_SERVICE_MODULE: {
    raisedBy: "kernel-core at start (hosting `placement: kernel` services)",
    exit: ExitStatus.CONFIG,
    meaning: "a kernel-placement service's `module` does not export `service` (a ServiceModule)",
    action: "point the service's `module` in the privilege table at its `src/index.ts`",
  },
  // Waiting
  MK_ERR_WAIT_TIMEOUT: {
    raisedBy: "`waitUntil`: kernel-core waiting for the emulator at start; mkctl waiting for a part to be healthy, ready or stopped",
    exit: ExitStatus.UNAVAILABLE,
    meaning: "what was awaited (`what`) did not happen within `deadlineMs`; `cause` is the last failure seen, if any",
    action: "read the awaited part's log (`<run dir>/logs/<part>.log`); start it again, or give it longer",
  },
  MK_ERR_STOP_WAITING: {
    raisedBy: "a `waitUntil` check (mkctl's boot)",
    exit: ExitStatus.SOFTWARE,
    meaning: "a check ended its wait at once; `waitUntil` throws the check's `cause` instead, so this error is never seen outside a wait",
    action: "none; seen elsewhere, it was thrown outside a `waitUntil` check: a bug",
  },
  // Requests over NATS (the request multiplexer, kernel-core/base/request-mux.ts)
  MK_ERR_NO_RESPONDERS: {
    raisedBy: "request multiplexer (libsys, kernel-core): nats-server's no-responders answer",
    exit: ExitStatus.UNAVAILABLE,
    errno: "ENOTREADY",
    meaning: "nobody subscribes to the request's subject (`subject`): for a trap, kernel-core is not serving",
    action: "start kernel-core (`mkctl start kernel`) or wait for it; kernel-core's forward turns this into `MK_ERR_NO_SUBSCRIBER` instead",
  },
  MK_ERR_REQUEST_TIMEOUT: {
    raisedBy: "request multiplexer (libsys, kernel-core)",
    exit: ExitStatus.UNAVAILABLE,
    errno: "ETIMEDOUT",
    meaning: "no reply on `subject` within `timeoutMs`",
    action: "the destination is hung or slow: read its log; the caller decides whether to resend",
  },
  MK_ERR_DISCONNECTED: {
    raisedBy: "request multiplexer (libsys, kernel-core)",
    exit: ExitStatus.UNAVAILABLE,
    errno: "ENOTREADY",
    meaning:
      "the connection to nats-server is lost: requests in flight fail at once (their replies are gone), new ones fail until it is back",
    action: "bring nats-server back (`mkctl start nats`); parts reconnect by themselves; resend then",
  },
  MK_ERR_PUBLISH_DENIED: {
    raisedBy: "request multiplexer (libsys), from nats-server's permission error",
    exit: ExitStatus.CONFIG,
    errno: "ETRAPDENIED",
    meaning: "nats-server refused this connection's publish on `subject`: its NATS user is not the service it claims to be",
    action: "give the service its own credential (`MK_CREDS`)",
  },
  MK_ERR_INBOX_DENIED: {
    raisedBy: "request multiplexer (libsys), from nats-server's permission error",
    exit: ExitStatus.CONFIG,
    errno: "ETRAPDENIED",
    meaning: "nats-server refused the subscription to this connection's own reply inbox (`inbox`): no reply can arrive",
    action: "give the service its own credential (`MK_CREDS`)",
  },
  MK_ERR_NO_SUBSCRIBER: {
    raisedBy: "kernel-core trap path (forward to a user-placement endpoint)",
    exit: ExitStatus.SOFTWARE,
    errno: "EDEADSRCDST",
    meaning:
      "nothing listens on the destination incarnation's endpoint subject (`endpoint`): the kernel marks it dead and answers `EDEADSRCDST`",
    action: "none in the kernel; callers see `EDEADSRCDST` and wait for the next generation",
  },
  // Programming errors
  MK_ERR_BAD_HEADER: {
    raisedBy: "envelope codec (every part), before a header reaches the wire",
    exit: ExitStatus.SOFTWARE,
    meaning:
      "a header name that is not a token, or a value holding CR or LF, was refused before it was written (the message names the header): a header injection stopped",
    action: "a bug in the code that built the header: bound and clean the value first",
  },
  // mkctl
  MK_ERR_INJECTED_CRASH: {
    raisedBy: "libsys's crash hook, in a server armed with `MK_CRASH_ON=label:MSG_TYPE`",
    exit: ExitStatus.SOFTWARE,
    meaning:
      "a crash injected on purpose (chaos): thrown from inside the server like a bug, it ends the service's process, or kernel-core with a kernel-placement server",
    action: "none: unset `MK_CRASH_ON` to stop it",
  },
  MK_ERR_EXPERIMENT: {
    raisedBy: "mkctl chaos run (loading the experiment file, before anything is injected)",
    exit: ExitStatus.USAGE,
    meaning:
      "the experiment file cannot be read, is not YAML/JSON, or a field is wrong; the message names the file and the field's path (e.g. method[2].targets[0]); `mkctl chaos run` exits 2 for it, as Chaos Toolkit does",
    action: "fix that field (experiments/ holds examples; docs/chaos.md describes the format)",
  },
  MK_ERR_USAGE: {
    raisedBy: "mkctl (command line)",
    exit: ExitStatus.USAGE,
    meaning:
      "no or an unknown command, an unknown option, a missing argument, or a process-mode command (`kill`, `start`, `down`) given for a compose system",
    action: "`mkctl --help`; in compose, `docker compose kill`, `start` or `down`",
  },
  MK_ERR_UNKNOWN_PART: {
    raisedBy: "mkctl (`kill`, `start`; NATS config for a user); rs's process backend (a signal to a part with no recorded process)",
    exit: ExitStatus.USAGE,
    meaning: "the part named is not nats, kernel, hardware or a service in the privilege table, or no process is recorded for it",
    action: "name a part the message lists (`mkctl ps` shows the services)",
  },
  MK_ERR_NOT_STARTABLE: {
    raisedBy: "mkctl (`start`, `kill`)",
    exit: ExitStatus.USAGE,
    meaning: "the service has no process of its own: it runs inside kernel-core (`placement: kernel`) or is a client (no `command`)",
    action: "`mkctl start kernel` (or `kill kernel`) for an in-kernel service; a client is started by whoever uses it",
  },
  MK_ERR_NO_SYSTEM: {
    raisedBy: "mkctl (`ps`, `down`, `kill`, `start`)",
    exit: ExitStatus.UNAVAILABLE,
    meaning: "no process-mode system was booted from the run directory (it has no `state.json`), or none of its processes runs (`kill`)",
    action: "`mkctl up` first, or name the right directory (`--run-dir`, `MKOS_RUN_DIR`)",
  },
  MK_ERR_SYSTEM_RUNNING: {
    raisedBy: "mkctl (`up`)",
    exit: ExitStatus.UNAVAILABLE,
    meaning: "processes of a system booted from this run directory still run",
    action: "`mkctl down` first, or use another `--run-dir`",
  },
  MK_ERR_KERNEL_UNREACHABLE: {
    raisedBy: "mkctl (`ps`, `start`)",
    exit: ExitStatus.UNAVAILABLE,
    meaning: "kernel-core of the system in the run directory does not answer on its HTTP port; the message lists the parts not running",
    action: "`mkctl start kernel`, or `mkctl up`",
  },
  MK_ERR_PART_EXITED: {
    raisedBy: "mkctl (`up`, `start`)",
    exit: ExitStatus.UNAVAILABLE,
    meaning: "a part exited while mkctl waited for it to be ready; the message quotes its last logged error",
    action: "read its log (`<run dir>/logs/<part>.log`) and fix the cause (e.g. a port in use)",
  },
  MK_ERR_STOP_FAILED: {
    raisedBy: "rs's process backend: mkctl (`down`, `up` cleaning up, `start`)",
    exit: ExitStatus.SOFTWARE,
    meaning: "processes (pids in the message) were still there 5 s after SIGKILL",
    action: "look at them with `ps` (uninterruptible sleep?) and stop them by hand before `mkctl up`",
  },
  MK_ERR_SPAWN_FAILED: {
    raisedBy: "rs's process backend: mkctl (`up`, `start`)",
    exit: ExitStatus.CONFIG,
    meaning: "a part's command could not be run (the message names the part and the executable, and the system's reason)",
    action: "fix the part's `command` in the privilege table, or install what it runs",
  },
  MK_ERR_NO_NATS_SERVER: {
    raisedBy: "mkctl (`up`, `start nats`)",
    exit: ExitStatus.UNAVAILABLE,
    meaning: "no nats-server executable on the PATH or in /usr/sbin, /usr/local/sbin, /usr/local/bin, /usr/bin",
    action: "`apt-get install nats-server`, or set `MK_NATS_SERVER` to the binary",
  },
  MK_ERR_BAD_ENV: {
    raisedBy: "mkctl (`gen-config`, a port in `MKOS_KERNEL_PORT` or `MK_NATS_PORT`); rs at start",
    exit: ExitStatus.CONFIG,
    meaning:
      "an environment variable is missing or holds a value that cannot be used, e.g. `MK_UIDS` not a list of user=uid, or rs without `MK_RUN_DIR`",
    action: "fix the variable; the message names it and the bad part",
  },
  MK_ERR_NO_COMPOSE: {
    raisedBy: "compose tooling (`services/boot/src/compose.ts`: compose tests, `bench:ipc --compose`)",
    exit: ExitStatus.UNAVAILABLE,
    meaning: "neither `docker compose` (v2) nor `docker-compose` (v1) runs here",
    action: "install docker-compose (or the Compose v2 plugin)",
  },
  MK_ERR_BASE_IMAGES: {
    raisedBy: "compose tooling (`services/boot/src/compose.ts`)",
    exit: ExitStatus.UNAVAILABLE,
    meaning: "`scripts/base-images.sh` printed no `NODE_IMAGE`/`NATS_IMAGE`",
    action: "run the script by hand to see why (no registry, and no local node or nats-server to build stand-ins from)",
  },
} satisfies Record<`MK_ERR_${string}`, LocalErrorInfo>;

export type LocalCode = keyof typeof table;
export const LocalErrors: Readonly<Record<LocalCode, LocalErrorInfo>> = table;

/** The base of every local error: `code` says which row of the registry it is. */
export class LocalError<C extends LocalCode = LocalCode> extends Error {
  readonly code: C;
  /** What the error is about, as fields (which argument, label, limit); carried on by toMkError. */
  readonly detail?: ErrDetail;
  constructor(code: C, message: string, options?: ErrorOptions & { detail?: ErrDetail }) {
    super(message, options);
    this.name = "LocalError";
    this.code = code;
    if (options?.detail) this.detail = options.detail;
  }
}

/**
 * A local error (with that code). It looks at `code` only, not at the class, so it holds
 * for an error built by another copy of this module, and for every subclass.
 */
export function isLocalError<C extends LocalCode>(e: unknown, code?: C): e is LocalError<C> {
  if (!(e instanceof Error)) return false;
  const c = (e as { code?: unknown }).code;
  return typeof c === "string" && Object.hasOwn(LocalErrors, c) && (code === undefined || c === code);
}

/**
 * The errno a local error becomes when it crosses the wire: the registry's `errno` (EIO
 * where it has none), with a message saying what the caller knows (default: e's own).
 */
export function toMkError(e: LocalError, message = e.message): MkError {
  return new MkError(LocalErrors[e.code].errno ?? "EIO", message, { cause: e, detail: e.detail });
}

/** The errnos that say a part is not there to answer (absent, dead, busy, silent), not that it said no. */
const UNAVAILABLE_ERRNOS: ReadonlySet<string> = new Set(["ENOTREADY", "ETIMEDOUT", "EDEADSRCDST", "EBADSRCDST", "EAGAIN"]);

/**
 * The status a process exits with when e stops it: a local error's row; an errno saying a
 * part is absent or did not answer EX_UNAVAILABLE; any other errno (the system answered:
 * ENOENT, EBUSY, ECALLDENIED...) 1, as ls and rm exit; anything else is a bug.
 */
export function exitStatus(e: unknown): ExitStatus {
  if (isLocalError(e)) return LocalErrors[e.code].exit;
  if (isMkError(e)) return UNAVAILABLE_ERRNOS.has(e.errno) ? ExitStatus.UNAVAILABLE : ExitStatus.FAILURE;
  return ExitStatus.SOFTWARE;
}
