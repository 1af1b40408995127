// `mkctl gen-config`: writes the NATS server config and one credential per NATS user,
// generated from the privilege table, for deployments where no mkctl up runs (compose's
// one-shot config container). Each credential is chowned to the UID its service runs as,
// mode 0400, so a container can read its own credential and no other. Idempotent: an
// existing config generated from the same table is kept (restarted containers keep
// matching passwords).
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateNatsAuth, natsUsers } from "#boot";
import { LocalError } from "#base/errors.ts";
import { loadSystemTable } from "#base/system-table.ts";

export interface GenConfigOptions {
  system: string;
  out: string;
  clientUrl: string;
  listen: string;
  monitor: string;
  /** user -> uid, e.g. "kernel=1001,sys=1001,hardware=1002"; unlisted users get `defaultUid`. */
  uids: string;
  defaultUid: number;
}

function parseUids(spec: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z][a-z0-9-]*)=(\d{1,9})$/.exec(part);
    if (!m) throw new LocalError("MK_ERR_BAD_ENV", `MK_UIDS: "${part}" is not user=uid`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

export function genConfig(o: GenConfigOptions): { written: boolean; users: string[] } {
  const tableText = readFileSync(o.system, "utf8");
  const ipcPath = process.env.MK_IPC_PATH ?? "";
  const stamp = createHash("sha256").update(tableText).update(o.clientUrl).update(o.uids).update(ipcPath).digest("hex");
  const stampFile = join(o.out, "generated-from.sha256");
  const table = loadSystemTable(o.system);
  const users = natsUsers(table);
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === stamp) return { written: false, users };

  const uids = parseUids(o.uids);
  const auth = generateNatsAuth(table, { clientUrl: o.clientUrl, listen: o.listen, monitor: o.monitor, ipcPath });
  mkdirSync(join(o.out, "creds"), { recursive: true, mode: 0o755 });
  chmodSync(join(o.out, "creds"), 0o755);
  writeFileSync(join(o.out, "nats.conf"), auth.config, { mode: 0o400 });
  for (const [user, cred] of auth.credentials) {
    const file = join(o.out, "creds", `${user}.json`);
    writeFileSync(file, `${JSON.stringify(cred)}\n`, { mode: 0o400 });
    chmodSync(file, 0o400);
    // A channel user's credential belongs to its service (vfs@ch: vfs's uid).
    const uid = uids.get(user) ?? uids.get(user.replace(/@ch$/, "")) ?? o.defaultUid;
    chownSync(file, uid, uid);
  }
  writeFileSync(stampFile, `${stamp}\n`);
  return { written: true, users };
}
