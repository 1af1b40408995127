// sys_devaccess: for a driver, who may read or write which disk area and who may read its
// input, as the privilege table says (its `block` and `input` entries).
import { SysCall as K, type DeviceAccess } from "#abi";
import type { Sys } from "../sys.ts";

export async function sysDevaccess(sys: Sys): Promise<DeviceAccess> {
  return (await sys.kernelCall(K.SYS_DEVACCESS, {})).args;
}
