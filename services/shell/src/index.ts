// The mkos shell: what others may import (the dashboard's console, tests): the line runner
// with its injected system operations, the console loop, and the command table.
export { COMMANDS } from "./commands.ts";
export type { Command } from "./command.ts";
export { TtyConsole, type ConsoleLine, type LineConsole } from "./console.ts";
export { shellDeps, type ShellDeps } from "./deps.ts";
export { MAX_OUTPUT, Output, TRUNCATED } from "./output.ts";
export { MAX_ARGS, MAX_LINE, tokenise } from "./parse.ts";
export { COMMAND_DEADLINE_MS, errorLine, run } from "./run.ts";
export { PROMPT, Shell } from "./shell.ts";
