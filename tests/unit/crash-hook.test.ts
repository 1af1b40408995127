// The crash fault hook: armed only for the labels and message types MK_CRASH_ON names,
// and what it throws is not an MkError, so it takes the path of a bug.
import { describe, expect, it } from "vitest";
import { Bdev, Common, isMkError } from "#abi";
import { crashHook, InjectedCrash } from "#libsys";

describe("crash hook", () => {
  it("crash hook - throws an InjectedCrash for the armed label and type only", () => {
    const ata = crashHook("ata", "tty:CDEV_WRITE, ata:BDEV_FLUSH");
    expect(() => ata(Bdev.BDEV_READ)).not.toThrow();
    expect(() => ata(Common.COMMON_PING)).not.toThrow();
    let thrown: unknown;
    try {
      ata(Bdev.BDEV_FLUSH);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InjectedCrash);
    expect(thrown).toMatchObject({ name: "InjectedCrash", label: "ata", msgType: "BDEV_FLUSH" });
    expect(isMkError(thrown)).toBe(false);
    // A label that is a prefix of another is not armed by it; empty arms nothing.
    expect(() => crashHook("at", "ata:BDEV_FLUSH")(Bdev.BDEV_FLUSH)).not.toThrow();
    expect(() => crashHook("ata", "")(Bdev.BDEV_FLUSH)).not.toThrow();
  });
});
