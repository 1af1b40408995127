// mfs, the MINIX v3 file system server, as a placement-neutral module: kernel-core imports
// `service` for placement kernel; src/main.ts runs it as its own process.
import type { ServiceModule } from "#libsys";
import { Mfs } from "./mfs.ts";

// 1024: the block size util-linux (mkfs.minix, fsck.minix 2.38) reads and writes; 2048 and 4096 are MINIX 3's.
const blockSize = Number(process.env.MK_MFS_BLOCK_SIZE ?? 1024);

export const service: ServiceModule = {
  label: "mfs",
  create: (sys) =>
    new Mfs(sys, {
      driver: process.env.MK_MFS_DRIVER ?? "ata",
      formatBlank: process.env.MK_MFS_FORMAT_BLANK !== "0",
      blockSize: blockSize === 2048 || blockSize === 4096 ? blockSize : 1024,
      cacheBlocks: Number(process.env.MK_MFS_CACHE_BLOCKS ?? 1024),
    }).server(),
};
