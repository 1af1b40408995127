// A service's own NATS credential, written by `mkctl up` (or compose's one-shot config
// container) to a file only that service may read. MK_CREDS names the file.
import { existsSync, readFileSync } from "node:fs";
import { LocalError } from "./errors.ts";

/** NATS users that are not services: the emulator's, and the system account's (kernel-core's watcher). */
export const HARDWARE_USER = "hardware";
export const SYS_USER = "sys";
/**
 * A server that takes channels reads them with a second NATS user of its own, `<label>@ch`
 * (a label has no `@`), whose credential lies beside its own: `<label>@ch.json`.
 */
export const CHANNEL_USER_SUFFIX = "@ch";
export const channelUser = (label: string): string => `${label}${CHANNEL_USER_SUFFIX}`;

/** The channel credential beside the credential file `file` (MK_CREDS), when the table gave this service one. */
export function loadChannelCredential(file = process.env.MK_CREDS): Credential | undefined {
  if (!file?.endsWith(".json")) return undefined;
  const beside = `${file.slice(0, -".json".length)}${CHANNEL_USER_SUFFIX}.json`;
  return existsSync(beside) ? loadCredential(beside) : undefined;
}

/** The NATS account every mkos user lives in ($SYS events name it). */
export const MK_ACCOUNT = "MK";

export interface Credential {
  user: string;
  password: string;
  servers: string[];
}

/** MK_ERR_CREDENTIAL: MK_CREDS is unset, or the credential at `file` cannot be used. */
class CredentialError extends LocalError<"MK_ERR_CREDENTIAL"> {
  readonly file?: string;
  constructor(message: string, file?: string, options?: ErrorOptions) {
    super("MK_ERR_CREDENTIAL", message, options);
    this.name = "CredentialError";
    this.file = file;
  }
}

export function loadCredential(file = process.env.MK_CREDS): Credential {
  if (!file) throw new CredentialError("MK_CREDS is not set: it must name this service's credential file");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new CredentialError(`cannot read credential ${file}: ${(e as Error).message}`, file, { cause: e });
  }
  const c = raw as Partial<Credential>;
  if (
    typeof c.user !== "string" ||
    typeof c.password !== "string" ||
    !Array.isArray(c.servers) ||
    !c.servers.every((s) => typeof s === "string")
  ) {
    throw new CredentialError(`credential ${file} must hold user, password and servers`, file);
  }
  return { user: c.user, password: c.password, servers: c.servers };
}
