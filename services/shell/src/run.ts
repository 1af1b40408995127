// One line, run: tokenised, looked up, executed with the system operations injected, its
// output bounded, and any failure turned into one line `name: ERRNO: message`. Nothing a
// line holds ends the shell: every error is output, and a command that hangs is given up
// on after a deadline (what it started may still finish in the background).
import { MkError } from "#abi";
import { COMMANDS } from "./commands.ts";
import type { ShellDeps } from "./deps.ts";
import { Output } from "./output.ts";
import { tokenise } from "./parse.ts";

/** How long one command may run before the prompt comes back (a hang fault's 60 s, plus margin). */
const COMMAND_DEADLINE_MS = 90_000;
/** An error message on the console: one line, at most this long. */
const MAX_MESSAGE = 300;

/** The errno (or local error code) and the message of anything thrown, on one line. */
export function errorLine(name: string, e: unknown): string {
  const code = e instanceof MkError ? e.errno : typeof (e as { code?: unknown })?.code === "string" ? (e as { code: string }).code : "EIO";
  const raw = e instanceof Error ? e.message : String(e);
  let msg = raw
    .replace(/[\r\n\t]+/g, " ")
    .replace(/[\x00-\x1f\x7f]/g, "?")
    .trim();
  if (msg.length > MAX_MESSAGE) msg = `${msg.slice(0, MAX_MESSAGE - 1)}…`;
  return `${name}: ${code}: ${msg}`;
}

/** Runs one command line and answers what to print (empty for a blank line). Never throws. */
export async function run(line: string, deps: ShellDeps, o: { deadlineMs?: number } = {}): Promise<string> {
  let words: string[];
  try {
    words = tokenise(line);
  } catch (e) {
    return `${errorLine("sh", e)}\n`;
  }
  if (words.length === 0) return "";
  const [name, ...args] = words;
  const command = COMMANDS.get(name);
  if (!command) return `sh: ${name.length > 64 ? `${name.slice(0, 64)}…` : name}: command not found\n`;
  const out = new Output();
  const deadlineMs = o.deadlineMs ?? COMMAND_DEADLINE_MS;
  let timer: { cancel(): void } | undefined;
  try {
    const overdue = new Promise<never>((_, reject) => {
      timer = deps.clock.setTimeout(() => reject(new MkError("ETIMEDOUT", `gave up after ${deadlineMs} ms`)), deadlineMs);
    });
    await Promise.race([Promise.resolve().then(() => command.run(args, out, deps)), overdue]);
    return out.text();
  } catch (e) {
    return `${out.text()}${errorLine(name, e)}\n`;
  } finally {
    timer?.cancel();
  }
}
