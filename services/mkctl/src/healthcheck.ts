// Container healthcheck for a service: healthy when kernel-core's endpoint table shows a
// ready incarnation of MK_LABEL running on this container's host name (so the check
// proves this container serves, not an older incarnation). Exit 0 healthy, 1 not.
import { hostname } from "node:os";

const label = process.env.MK_LABEL;
const url = process.env.MK_KERNEL_URL ?? "http://kernel-core:7700";
try {
  const r = await fetch(`${url}/endpoints`, { signal: AbortSignal.timeout(2000) });
  const { endpoints } = (await r.json()) as { endpoints: { label: string; state: string; host: string }[] };
  const me = endpoints.find((e) => e.label === label);
  process.exit(me && me.state === "ready" && me.host === hostname() ? 0 : 1);
} catch {
  process.exit(1);
}
