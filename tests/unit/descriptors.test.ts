// vfs's descriptor tables: an open resent because its answer was lost (kernel-core
// restarted, a timeout) must get the descriptor the first made, not a second one that
// keeps the file open for good.
import { describe, expect, it } from "vitest";
import { Descriptors } from "../../services/fs/vfs/src/descriptors.ts";

describe("vfs descriptors", () => {
  it("descriptors - an open resent with its request id, even while the first is under way, gets the first's descriptor; another open under that id is EINVAL; a failed one is tried again", async () => {
    const fds = new Descriptors();
    let opens = 0;
    let finish!: (v: { fd: number; ino: number }) => void;
    const slow = () => {
      opens++;
      return new Promise<{ fd: number; ino: number }>((r) => (finish = r));
    };
    const first = fds.openOnce("user#1", "rid-1", "d1", slow);
    const resent = fds.openOnce("user#1", "rid-1", "d1", slow);
    finish({ fd: 3, ino: 42 });
    expect(await first).toEqual({ fd: 3, ino: 42 });
    expect(await resent).toEqual({ fd: 3, ino: 42 });
    expect(opens).toBe(1);
    await expect(fds.openOnce("user#1", "rid-1", "another", slow)).rejects.toMatchObject({ errno: "EINVAL" });
    // Another process's id is its own.
    const other = fds.openOnce("user#2", "rid-1", "d1", async () => ({ fd: 3, ino: 7 }));
    expect(await other).toEqual({ fd: 3, ino: 7 });
    // A failed open is forgotten: its resend tries again.
    await expect(fds.openOnce("user#1", "rid-2", "d2", async () => Promise.reject(new Error("ENOENT")))).rejects.toThrow();
    await Promise.resolve();
    expect(await fds.openOnce("user#1", "rid-2", "d2", async () => ({ fd: 4, ino: 9 }))).toEqual({ fd: 4, ino: 9 });
    // Closed, its number is forgotten: the same id opens anew (never another file's descriptor).
    const table = new Descriptors();
    const fd = table.add("user#3", { ino: 11 } as never);
    expect(await table.openOnce("user#3", "rid-9", "d", async () => ({ fd, ino: 11 }))).toEqual({ fd, ino: 11 });
    await Promise.resolve();
    table.remove("user#3", fd);
    expect(await table.openOnce("user#3", "rid-9", "d", async () => ({ fd: 99, ino: 12 }))).toEqual({ fd: 99, ino: 12 });
    // A dead process's ids go with it.
    fds.drop("user#1");
    expect(await fds.openOnce("user#1", "rid-1", "x", async () => ({ fd: 5, ino: 1 }))).toEqual({ fd: 5, ino: 1 });
  });
});
