// mfs's duplicate request cache: a repeat of one caller's change is answered, not made
// again; another caller's use of the same id is its own change; one caller reusing an id
// for another request is EINVAL; failures are not kept; the cache is bounded per caller.
import { describe, expect, it } from "vitest";
import { Fs, MkError } from "#abi";
import { ReplyCache } from "../../services/fs/mfs/src/reply-cache.ts";

/** A change that counts its runs and answers with the count. */
function counter() {
  let runs = 0;
  return { run: async () => ({ args: { run: ++runs } }), runs: () => runs };
}

describe("reply cache", () => {
  it("reply cache - a repeat of the same request from the same caller is answered from the cache, once made", async () => {
    const cache = new ReplyCache();
    const c = counter();
    const first = await cache.once("vfs", "user#3:abcdefgh", Fs.FS_MKDIR, "d1", c.run);
    expect(await cache.once("vfs", "user#3:abcdefgh", Fs.FS_MKDIR, "d1", c.run)).toEqual(first);
    expect(c.runs()).toBe(1);
  });

  it("reply cache - the same id from another program, another incarnation or another sender is a change of its own", async () => {
    const cache = new ReplyCache();
    const c = counter();
    await cache.once("vfs", "user#3:abcdefgh", Fs.FS_MKDIR, "d1", c.run);
    await cache.once("vfs", "shell#1:abcdefgh", Fs.FS_MKDIR, "d1", c.run);
    await cache.once("vfs", "user#4:abcdefgh", Fs.FS_MKDIR, "d1", c.run);
    await cache.once("fsuser", "user#3:abcdefgh", Fs.FS_MKDIR, "d1", c.run);
    expect(c.runs()).toBe(4);
  });

  it("reply cache - one caller's id reused for another type or other arguments is EINVAL, and nothing runs", async () => {
    const cache = new ReplyCache();
    const c = counter();
    await cache.once("vfs", "user#3:abcdefgh", Fs.FS_MKDIR, "d1", c.run);
    await expect(cache.once("vfs", "user#3:abcdefgh", Fs.FS_MKDIR, "d2", c.run)).rejects.toMatchObject({ errno: "EINVAL" });
    await expect(cache.once("vfs", "user#3:abcdefgh", Fs.FS_RMDIR, "d1", c.run)).rejects.toMatchObject({ errno: "EINVAL" });
    expect(c.runs()).toBe(1);
  });

  it("reply cache - a change that failed is not kept: its repeat is tried again", async () => {
    const cache = new ReplyCache();
    let tries = 0;
    const failing = async () => {
      tries++;
      throw new MkError("ENOSPC", "full");
    };
    await expect(cache.once("vfs", "user#3:abcdefgh", Fs.FS_CREATE, "d", failing)).rejects.toMatchObject({ errno: "ENOSPC" });
    await expect(cache.once("vfs", "user#3:abcdefgh", Fs.FS_CREATE, "d", failing)).rejects.toMatchObject({ errno: "ENOSPC" });
    expect(tries).toBe(2);
  });

  it("reply cache - a flood of one caller's changes forgets its own oldest, never another caller's", async () => {
    const cache = new ReplyCache();
    const other = counter();
    await cache.once("vfs", "victim#1:victim-rid", Fs.FS_MKDIR, "v", other.run);
    const flood = counter();
    for (let i = 0; i < 1000; i++) await cache.once("vfs", `flood#1:rid-${String(i).padStart(6, "0")}`, Fs.FS_MKDIR, `f${i}`, flood.run);
    await cache.once("vfs", "victim#1:victim-rid", Fs.FS_MKDIR, "v", other.run);
    expect(other.runs()).toBe(1);
    // The flood's first id is forgotten (run again); its last is still answered.
    await cache.once("vfs", "flood#1:rid-000000", Fs.FS_MKDIR, "f0", flood.run);
    await cache.once("vfs", "flood#1:rid-000999", Fs.FS_MKDIR, "f999", flood.run);
    expect(flood.runs()).toBe(1001);
  });
});
