// vfs as a placement-neutral module: kernel-core imports `service` for placement kernel;
// src/main.ts runs it as its own process. The mounts come from MK_VFS_MOUNTS
// ("/=mfs,/proc=procfs:ro", the default); MK_VFS_NAME_CACHE=0 turns the cache of directory
// names off (every walk asks every name: the worst case a client that keeps renaming forces).
import { MkError } from "#abi";
import type { ServiceModule } from "#libsys";
import { VfsServer, type Mount } from "./vfs.ts";

function parseMounts(spec: string): Mount[] {
  return spec
    .split(",")
    .filter(Boolean)
    .map((item) => {
      const m = /^(\/[^=]*)=([a-z][a-z0-9-]{0,31})(:ro)?$/.exec(item.trim());
      if (!m) throw new MkError("EINVAL", `MK_VFS_MOUNTS: ${JSON.stringify(item)} is not PATH=LABEL or PATH=LABEL:ro`);
      return { path: m[1], dev: m[2], readOnly: m[3] === ":ro" };
    });
}

export const service: ServiceModule = {
  label: "vfs",
  create: (sys) =>
    new VfsServer(sys, {
      mounts: parseMounts(process.env.MK_VFS_MOUNTS ?? "/=mfs,/proc=procfs:ro"),
      nameCache: process.env.MK_VFS_NAME_CACHE !== "0",
    }).server(),
};
