// Fault hooks: chaos's crash, slow and corrupt, from inside a server. Armed two ways:
// MK_CRASH_ON lists `label:MSG_TYPE` pairs (`ata:BDEV_FLUSH,tty:CDEV_WRITE`) for a crash
// at start-up, and COMMON_FAULT arms them at run time. The kernel delivers COMMON_FAULT
// only from a caller with `chaos: true` in the privilege table (and, as for any message,
// only to a service in its ipc list); no other message can arm a hook. A crash is a
// local error (MK_ERR_INJECTED_CRASH), not an MkError, so it takes the path a bug takes:
// the service's process exits (placement user) or kernel-core panics (placement kernel).
import { typeName, type ReqArgs, type Common, type Reply } from "#abi";
import { LocalError } from "#base/errors.ts";

export class InjectedCrash extends LocalError<"MK_ERR_INJECTED_CRASH"> {
  readonly label: string;
  readonly msgType: string;
  constructor(label: string, msgType: string) {
    super("MK_ERR_INJECTED_CRASH", `${label}: crash injected on ${msgType} (MK_CRASH_ON or COMMON_FAULT)`);
    this.name = "InjectedCrash";
    this.label = label;
    this.msgType = msgType;
  }
}

/** The check a server runs before each request: throws when MK_CRASH_ON names this label and the request's type. */
export function crashHook(label: string, spec = process.env.MK_CRASH_ON): (type: number) => void {
  const types = new Set(
    (spec ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.startsWith(`${label}:`))
      .map((s) => s.slice(label.length + 1)),
  );
  if (types.size === 0) return () => undefined;
  return (type) => {
    if (types.has(typeName(type))) throw new InjectedCrash(label, typeName(type));
  };
}

export type FaultRequest = ReqArgs<typeof Common.COMMON_FAULT>;

/** The hooks COMMON_FAULT arms in one server; slow and corrupt apply to the next `count` replies (counts add up), crash to the next request. */
export class FaultHooks {
  private readonly label: string;
  private readonly fromEnv: (type: number) => void;
  private crashType?: number; // 0: any request
  private slow = { ms: 0, left: 0 };
  private corrupt = { left: 0 };

  constructor(label: string, env = process.env.MK_CRASH_ON) {
    this.label = label;
    this.fromEnv = crashHook(label, env);
  }

  arm(f: FaultRequest): void {
    const count = f.count ?? 1;
    switch (f.fault) {
      case "crash":
        this.crashType = f.type ?? 0;
        break;
      // Counts add up: n armed faults are n affected replies, however fast they are armed.
      case "slow":
        this.slow = { ms: f.ms ?? 100, left: this.slow.left + count };
        break;
      case "corrupt":
        this.corrupt = { left: this.corrupt.left + count };
        break;
      case "block": {
        // A blocked event loop: after this reply is out, the server computes and answers
        // nothing (no heartbeat either) for ms: rs must see a hang.
        const ms = f.ms ?? 5000;
        setTimeout(() => {
          const end = Date.now() + ms;
          while (Date.now() < end) {
            // spin: that is the fault
          }
        }, 10);
        break;
      }
      case "clear":
        this.crashType = undefined;
        this.slow = { ms: 0, left: 0 };
        this.corrupt = { left: 0 };
        break;
    }
  }

  /** Before a request is handled: an armed crash throws from inside the server. */
  before(type: number): void {
    this.fromEnv(type);
    if (this.crashType !== undefined && (this.crashType === 0 || this.crashType === type)) {
      throw new InjectedCrash(this.label, typeName(type));
    }
  }

  /** After: an armed slow fault delays the reply; an armed corrupt fault flips a bit of its body. */
  async after(reply: Reply | undefined, sleep: (ms: number) => Promise<void>): Promise<Reply | undefined> {
    if (this.slow.left > 0) {
      this.slow.left--;
      await sleep(this.slow.ms);
    }
    if (this.corrupt.left > 0 && reply?.data && reply.data.length > 0) {
      this.corrupt.left--;
      const data = Uint8Array.from(reply.data);
      data[data.length >> 1] ^= 0x01;
      return { ...reply, data };
    }
    return reply;
  }
}
