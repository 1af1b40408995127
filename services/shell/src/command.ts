// The shape of one shell command: its name, a usage line, a one-line summary for help, and
// what it does with its arguments, writing to a bounded Output. A command fails by
// throwing an MkError; the shell prints it as `name: ERRNO: message`.
import { MkError } from "#abi";
import type { ShellDeps } from "./deps.ts";
import type { Output } from "./output.ts";

export interface Command {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  run(args: string[], out: Output, deps: ShellDeps): Promise<void> | void;
}

/** A wrong command line: EINVAL carrying the usage. */
export function usage(c: Pick<Command, "usage">, why?: string): MkError {
  return new MkError("EINVAL", `${why ? `${why}; ` : ""}usage: ${c.usage}`);
}
