// The crash fault hook: chaos's "crash", thrown from inside a server. MK_CRASH_ON lists
// `label:MSG_TYPE` pairs (`ata:BDEV_FLUSH,tty:CDEV_WRITE`); a service whose label is
// listed throws an InjectedCrash when a request of that type reaches it. It is a local
// error (MK_ERR_INJECTED_CRASH), not an MkError, so it takes the path a bug takes: the service's process
// exits (placement user) or kernel-core panics (placement kernel). Only whoever starts
// the process sets its environment: no message can arm the hook.
import { typeName } from "#abi";
import { LocalError } from "#base/errors.ts";

export class InjectedCrash extends LocalError<"MK_ERR_INJECTED_CRASH"> {
  readonly label: string;
  readonly msgType: string;
  constructor(label: string, msgType: string) {
    super("MK_ERR_INJECTED_CRASH", `${label}: crash injected on ${msgType} (MK_CRASH_ON)`);
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
