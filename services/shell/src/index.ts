// The mkos shell: what others may import (the dashboard's console, tests): the line runner
// with its injected system operations, the console loop, and the command table.
export { MAX_ARGS, tokenise } from "./parse.ts";
export { PROMPT } from "./shell.ts";
