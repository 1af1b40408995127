// Process mode's ports (services/boot/src/ports.ts): a wanted port is taken when free and
// replaced by a free one when something listens on it (a compose stack beside us); a port
// from the environment is 0-65535 or MK_ERR_BAD_ENV naming the variable.
import { createServer, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { portFromEnv, portFree, takePort } from "../../services/boot/src/ports.ts";

describe("ports", () => {
  it("ports - a wanted port in use is replaced by a free one; a free one is taken as it is; 0 is any", async () => {
    const held = createServer();
    await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
    const busy = (held.address() as AddressInfo).port;
    try {
      expect(await portFree(busy)).toBe(false);
      const moved = await takePort(busy);
      expect(moved.wanted).toBe(busy);
      expect(moved.port).not.toBe(busy);
      expect(await portFree(moved.port)).toBe(true);
      expect(await takePort(moved.port)).toEqual({ port: moved.port, wanted: moved.port });
      expect((await takePort(0)).port).toBeGreaterThan(0);
    } finally {
      await new Promise((resolve) => held.close(resolve));
    }
  });

  it("ports - MKOS_KERNEL_PORT: unset is undefined, 0-65535 a port, anything else MK_ERR_BAD_ENV naming it", () => {
    expect(portFromEnv("MKOS_KERNEL_PORT", {})).toBeUndefined();
    expect(portFromEnv("MKOS_KERNEL_PORT", { MKOS_KERNEL_PORT: "" })).toBeUndefined();
    expect(portFromEnv("MKOS_KERNEL_PORT", { MKOS_KERNEL_PORT: "7701" })).toBe(7701);
    expect(portFromEnv("MKOS_KERNEL_PORT", { MKOS_KERNEL_PORT: "0" })).toBe(0);
    for (const bad of ["65536", "-1", "77o0", "7700.5", " 7700"]) {
      expect(() => portFromEnv("MKOS_KERNEL_PORT", { MKOS_KERNEL_PORT: bad }), bad).toThrow(
        expect.objectContaining({ code: "MK_ERR_BAD_ENV" }),
      );
    }
  });
});
