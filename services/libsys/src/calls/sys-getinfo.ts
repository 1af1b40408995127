// sys_getinfo: the kernel's endpoint table, one endpoint (optionally waiting for a newer
// generation to be ready), or the caller's own privileges.
import { MkError, SysCall as K, type EndpointInfo } from "#abi";
import type { Sys } from "../sys.ts";

export async function sysGetEndpoints(sys: Sys): Promise<EndpointInfo[]> {
  const r = await sys.kernelCall(K.SYS_GETINFO, { what: "endpoints" });
  return r.args.endpoints ?? [];
}

/**
 * The ready incarnation of label with a generation above `after`, waiting up to waitMs
 * for one to appear (a restarted driver). ETIMEDOUT when none does.
 */
export async function sysWaitEndpoint(sys: Sys, label: string, after: number, waitMs: number): Promise<EndpointInfo> {
  const r = await sys.kernelCall(K.SYS_GETINFO, { what: "endpoint", label, after, waitMs }, undefined, waitMs + 2000);
  const ep = r.args.endpoints?.[0];
  if (!ep) throw new MkError("EIO", `getinfo endpoint ${label}: the kernel's reply names no endpoint`);
  return ep;
}

/** The caller's own privileges: also the cheapest call there is (rs times it to see whether the kernel is responsive). */
export async function sysGetPrivileges(sys: Sys, timeoutMs?: number): Promise<unknown> {
  const r = await sys.kernelCall(K.SYS_GETINFO, { what: "privileges" }, undefined, timeoutMs);
  return r.args.privileges;
}
