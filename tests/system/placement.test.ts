// The placement seam: the same ATA driver module runs as its own process (placement
// user) and inside kernel-core (placement kernel), chosen in system.yaml; the same test
// passes in both.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isLocalError } from "#base/errors.ts";
import { BdevClient, sysGetEndpoints } from "#libsys";
import { bootTestSystem, pattern, type TestSystem } from "../helpers/system.ts";

describe.each(["user", "kernel"] as const)("placement %s", (placement) => {
  let ts: TestSystem;
  beforeAll(async () => {
    ts = await bootTestSystem({ placement: { ata: placement } });
  });
  afterAll(async () => {
    await ts?.down();
  });

  it(`placement - ata in ${placement} placement serves writes and reads of the same bytes`, async () => {
    const c = await ts.client();
    const eps = await sysGetEndpoints(c.sys);
    const ata = eps.find((e) => e.label === "ata")!;
    expect(ata).toMatchObject({ state: "ready", placement });
    const kernelPid = ts.sys.pids().kernel;
    expect(ata.pid === kernelPid).toBe(placement === "kernel");
    expect(ts.sys.pids().ata === undefined).toBe(placement === "kernel");

    const disk = new BdevClient(c.sys, "ata");
    await disk.openMinor(0);
    const data = pattern(2048, 64, placement === "user" ? 1 : 2);
    await disk.write(2048, data);
    await disk.flush();
    expect(Buffer.from(await disk.read(2048, 64)).equals(Buffer.from(data))).toBe(true);
    // Past the end of the disk is no one's: refused before the drive is asked.
    await expect(disk.read(32768, 1)).rejects.toMatchObject({ errno: "EPERM" });
  });

  it(`placement - mkctl kill ata in ${placement} placement ${placement === "user" ? "signals ata's own process" : "is refused, saying it runs inside kernel-core"}`, async () => {
    if (placement === "user") {
      // SIGCONT: a signal that changes nothing, to see whose process it reaches.
      const pid = ts.sys.pids().ata;
      expect(ts.sys.kill("ata", "SIGCONT")).toBe(pid);
      return;
    }
    let refused: unknown;
    try {
      ts.sys.kill("ata", "SIGKILL");
    } catch (e) {
      refused = e;
    }
    expect(isLocalError(refused, "MK_ERR_NOT_STARTABLE")).toBe(true);
    expect(refused).toMatchObject({ code: "MK_ERR_NOT_STARTABLE" });
    // Nothing was signalled: kernel-core, which holds ata, still serves it.
    const c = await ts.client();
    expect((await sysGetEndpoints(c.sys)).find((e) => e.label === "ata")).toMatchObject({ state: "ready", pid: ts.sys.pids().kernel });
  });
});
