// SYS_DEVACCESS: what the privilege table lets other services do with the caller's own
// device: the disk areas each may read or write (`block`), and who may read its input
// (`input`). A driver asks once (and again after a kernel-core restart) and checks every
// request against it with the kernel-stamped source: a label with ipc to the driver but
// no grant is refused by the driver, as MINIX leaves the device's policy to its driver.
import type { SysCall } from "#abi";
import { deviceAccess } from "#base/system-table.ts";
import type { KernelCall } from "./context.ts";

export const doDevaccess: KernelCall<typeof SysCall.SYS_DEVACCESS, "priv"> = (k, c) => ({ args: deviceAccess(k.priv, c.label) });
