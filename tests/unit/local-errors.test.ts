// Local errors: every error a part raises is a row of the registry (kernel-core/base/errors.ts),
// raised with its code and structured fields, mapped to its errno at the wire, and ends a
// process (mkctl's, here) with the row's exit status. Asserts codes and fields, never text.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { MkError } from "#abi";
import type { Clock } from "#base/clock.ts";
import { loadCredential } from "#base/credentials.ts";
import { exitStatus, isLocalError, LocalError, LocalErrors, toMkError, type LocalCode } from "#base/errors.ts";
import { Envelope } from "#base/nats-envelope.ts";
import { DisconnectedError, InboxDeniedError, NoRespondersError, PublishDeniedError, RequestTimeoutError } from "#base/request-mux.ts";
import { loadSystemTable, parseSystemTable } from "#base/system-table.ts";
import { StopWaiting, waitUntil } from "#base/wait.ts";
import { natsToMkError } from "#libsys";

const ROOT = join(import.meta.dirname, "../..");
const shipped = readFileSync(join(ROOT, "etc/system.yaml"), "utf8");
const tmp = mkdtempSync(join(tmpdir(), "mk-errors-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The dashboard's page runs in a browser, not in mkos: its errors never cross a process of ours. */
const BROWSER = "services/dashboard/web";

function sources(dir: string): string[] {
  if (dir === BROWSER) return [];
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** A clock whose sleep moves time at once: a wait runs to its deadline without waiting. */
function fastClock(): Clock {
  let t = 0;
  return { now: () => t, nowUs: () => t * 1000, setTimeout: () => ({ cancel: () => undefined }), sleep: async (ms) => void (t += ms) };
}

/** Runs services/mkctl/bin/mkctl under this Node; resolves with its exit status and stderr. */
function mkctl(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(ROOT, "services/mkctl/bin/mkctl"), ...args], {
      env: {
        ...process.env,
        PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}`,
        MK_CREDS: "",
        MKOS_RUN_DIR: join(tmp, "no-run-dir"),
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

describe("local errors", () => {
  const files = ["kernel-core", "hardware-emulator", "services"].flatMap(sources);

  it("local errors - no part raises an error outside the two registries", () => {
    const bad: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const m of text.matchAll(/new (Error|TypeError|RangeError|SyntaxError)\(/g)) bad.push(`${file}: new ${m[1]}(`);
      for (const m of text.matchAll(/class (\w+) extends (Error|TypeError|RangeError|SyntaxError)\b/g)) {
        const base = `${file}: ${m[1]}`;
        if (base !== "kernel-core/abi/errno.ts: MkError" && base !== "kernel-core/base/errors.ts: LocalError")
          bad.push(`${base} extends ${m[2]}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("local errors - every code in the registry is raised somewhere", () => {
    const text = files
      .filter((f) => f !== "kernel-core/base/errors.ts")
      .map((f) => readFileSync(join(ROOT, f), "utf8"))
      .join("\n");
    const unused = Object.keys(LocalErrors).filter((code) => !text.includes(`"${code}"`));
    expect(unused).toEqual([]);
  });

  it("local errors - a bad privilege table names the file and the line", () => {
    const doc = parseDocument(shipped);
    doc.setIn(["services", "ata", "placement"], "sideways");
    const text = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
    const line = text.split("\n").findIndex((l) => l.includes("placement: sideways")) + 1;
    let err: unknown;
    try {
      parseSystemTable(text, "etc/system.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: "MK_ERR_SYSTEM_TABLE", name: "SystemTableError", file: "etc/system.yaml", line });
    expect(isLocalError(err, "MK_ERR_SYSTEM_TABLE")).toBe(true);
    expect(exitStatus(err)).toBe(78);

    const missing = join(tmp, "no-such.yaml");
    expect(() => loadSystemTable(missing)).toThrow(
      expect.objectContaining({
        code: "MK_ERR_SYSTEM_TABLE",
        file: missing,
        line: undefined,
        cause: expect.objectContaining({ code: "ENOENT" }),
      }),
    );
  });

  it("local errors - a wait that runs out names what it waited for, its deadline and the last failure", async () => {
    const last = new Error("connection refused");
    const timedOut = waitUntil(
      () => {
        throw last;
      },
      { clock: fastClock(), deadlineMs: 500, what: "kernel-core ready" },
    );
    await expect(timedOut).rejects.toMatchObject({
      code: "MK_ERR_WAIT_TIMEOUT",
      name: "WaitTimeoutError",
      what: "kernel-core ready",
      deadlineMs: 500,
      cause: last,
    });
    const e = await timedOut.catch((x: unknown) => x);
    expect(exitStatus(e)).toBe(69);

    const exited = new LocalError("MK_ERR_PART_EXITED", "ata exited");
    await expect(
      waitUntil(
        () => {
          throw new StopWaiting(exited);
        },
        { clock: fastClock(), deadlineMs: 500, what: "ata ready" },
      ),
    ).rejects.toBe(exited);
  });

  it("local errors - a missing or unreadable credential names the file", () => {
    expect(() => loadCredential("")).toThrow(expect.objectContaining({ code: "MK_ERR_CREDENTIAL", file: undefined }));
    const bad = join(tmp, "bad-creds.json");
    writeFileSync(bad, JSON.stringify({ user: "ata" }));
    expect(() => loadCredential(bad)).toThrow(expect.objectContaining({ code: "MK_ERR_CREDENTIAL", name: "CredentialError", file: bad }));
  });

  it("local errors - a header injection is refused with a code", () => {
    expect(() => new Envelope().set("Mk-Errmsg", "one\r\nMk-Src: forged")).toThrow(expect.objectContaining({ code: "MK_ERR_BAD_HEADER" }));
  });

  it("local errors - the request multiplexer's errors carry their subject and become the registry's errno", () => {
    const cases: [LocalError, string][] = [
      [new RequestTimeoutError("mk.trap.ata", 250), "ETIMEDOUT"],
      [new NoRespondersError("mk.trap.ata"), "ENOTREADY"],
      [new DisconnectedError("mk.trap.ata"), "ENOTREADY"],
      [new PublishDeniedError("mk.trap.tty"), "ETRAPDENIED"],
      [new InboxDeniedError("_INBOX.tty.x.*"), "ETRAPDENIED"],
    ];
    for (const [e, errno] of cases) {
      expect(LocalErrors[e.code].errno).toBe(errno);
      expect(natsToMkError(e, "kernel")).toMatchObject({ name: "MkError", errno, cause: e });
    }
    expect(cases[0][0]).toMatchObject({ code: "MK_ERR_REQUEST_TIMEOUT", subject: "mk.trap.ata", timeoutMs: 250 });
    expect(cases[3][0]).toMatchObject({ code: "MK_ERR_PUBLISH_DENIED", subject: "mk.trap.tty" });
    expect(cases[4][0]).toMatchObject({ code: "MK_ERR_INBOX_DENIED", inbox: "_INBOX.tty.x.*" });
    // Every row's errno is the one toMkError gives; a row without one would reach a reply as EIO.
    for (const [code, r] of Object.entries(LocalErrors))
      expect(toMkError(new LocalError(code as LocalCode, "x")).errno).toBe(r.errno ?? "EIO");
  });

  it("local errors - the code decides, not the class: another module's copy, a Node error, an errno", () => {
    const copy = Object.assign(new Error("from another copy of the module"), { code: "MK_ERR_USAGE" });
    expect(isLocalError(copy, "MK_ERR_USAGE")).toBe(true);
    expect(exitStatus(copy)).toBe(64);
    const node = Object.assign(new Error("no such file"), { code: "ENOENT" });
    expect(isLocalError(node)).toBe(false);
    expect(exitStatus(node)).toBe(70);
    expect(isLocalError(new MkError("ETIMEDOUT", "x"))).toBe(false);
    expect(exitStatus(new MkError("ETIMEDOUT", "x"))).toBe(69);
    expect(exitStatus(new MkError("ENOTREADY", "x"))).toBe(69);
    // The system answered: a file-system errno is a failure of the command, as for ls and rm.
    expect(exitStatus(new MkError("ENOENT", "x"))).toBe(1);
    expect(exitStatus(new MkError("EBUSY", "x"))).toBe(1);
  });

  it("mkctl - a failure is one `mkctl: ` line and a sysexits status per class", async () => {
    const badTable = join(tmp, "bad-system.yaml");
    writeFileSync(badTable, "kernel: [\n");
    const [unknown, option, noPart, noSystem, table, help] = await Promise.all([
      mkctl(["frobnicate"]),
      mkctl(["ps", "--bogus"]),
      mkctl(["kill"]),
      mkctl(["kill", "ata"]),
      mkctl(["gen-config", "--out", join(tmp, "gen"), "--url", "nats://127.0.0.1:4222", "--system", badTable]),
      mkctl(["--help"]),
    ]);
    for (const r of [unknown, option, noPart]) {
      expect(r.status).toBe(64);
      expect(r.status).toBe(LocalErrors.MK_ERR_USAGE.exit);
    }
    expect(noSystem.status).toBe(LocalErrors.MK_ERR_NO_SYSTEM.exit);
    expect(noSystem.status).toBe(69);
    expect(table.status).toBe(LocalErrors.MK_ERR_SYSTEM_TABLE.exit);
    expect(table.status).toBe(78);
    for (const r of [unknown, option, noPart, noSystem, table]) expect(r.stderr).toMatch(/^mkctl: \S/);
    expect(help.status).toBe(0);
    expect(() => statSync(join(tmp, "gen")), "nothing written for a bad table").toThrow();
  });
});
