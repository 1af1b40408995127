// Kernel-call dispatch: a trap addressed to the kernel. The caller must be granted the
// call (ECALLDENIED, logged and counted), a call that takes no data must come without a
// body, and the arguments must match the call's layout before its handler runs.
import { DenialKind, isKernelCall, KernelCalls, MkError, parseRequestArgs, typeName, type KernelCallType, type Reply } from "#abi";
import { clip } from "#base/log.ts";
import { ALWAYS_ALLOWED, type ServicePrivileges } from "#base/system-table.ts";
import type { CallContext, KernelCall, KernelState } from "../calls/context.ts";
import { callTable } from "../calls/table.ts";
import type { EndpointEntry } from "../table/endpoint-table.ts";
import type { TrapIn, TrapOut } from "./trap.ts";

const EMPTY = new Uint8Array(0);

export class KernelDispatch {
  private readonly k: KernelState;

  constructor(k: KernelState) {
    this.k = k;
  }

  async call(t: TrapIn, priv: ServicePrivileges, caller: EndpointEntry | undefined): Promise<TrapOut> {
    if (!isKernelCall(t.type)) throw new MkError("EBADREQUEST", `${typeName(t.type)} is not a kernel call`);
    const info = KernelCalls[t.type];
    if (!ALWAYS_ALLOWED.includes(t.type) && !priv.calls.includes(t.type)) {
      this.k.deny({
        label: t.caller,
        entry: caller,
        call: info.name,
        denied: DenialKind.CALL,
        target: info.name,
        errno: "ECALLDENIED",
        fields: { msgType: typeName(t.type), reqId: t.reqId },
        message: `kernel call ${info.name} not granted to ${t.caller}`,
      });
      throw new MkError("ECALLDENIED", `kernel call ${info.name} not granted to ${t.caller}`, {
        detail: { arg: info.name, label: t.caller },
      });
    }
    if (!info.body && t.data.length > 0)
      throw new MkError("EBADREQUEST", `kernel call ${info.name} takes no body (got ${t.data.length} bytes)`);
    let result = "ok";
    try {
      const r = await run(this.k, t.type, t, priv, caller);
      return { status: 0, args: r.args, data: r.data ?? EMPTY };
    } catch (e) {
      result = e instanceof MkError ? e.errno : "crash";
      if (!(e instanceof MkError))
        this.k.log.error({ err: e, caller: t.caller, call: info.name, reqId: clip(t.reqId, 64) }, "kernel call %s failed", info.name);
      throw e;
    } finally {
      this.k.metrics.calls.labels(info.name, result).inc();
    }
  }
}

/** The handler of call `type`, given the arguments parsed by that call's layout. */
function run<T extends KernelCallType>(
  k: KernelState,
  type: T,
  t: TrapIn,
  priv: ServicePrivileges,
  caller: EndpointEntry | undefined,
): Promise<Reply> | Reply {
  const handler: KernelCall<T> = callTable[type];
  const c: CallContext<T> = {
    caller,
    label: t.caller,
    privileges: priv,
    origin: t.origin,
    args: parseRequestArgs(type, t.args ?? {}),
    data: t.data,
    reqId: t.reqId,
    trace: t.trace,
  };
  return handler(k, c);
}
