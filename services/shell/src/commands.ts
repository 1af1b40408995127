// The command table: every command the shell knows, by name, and help, which reads it.
import type { Command } from "./command.ts";
import { chaos, kill } from "./chaos-commands.ts";
import { dd } from "./dd.ts";
import { cat, cp, ls, mkdir, rm } from "./file-commands.ts";
import { echo, ps, services, uptime } from "./info-commands.ts";

const help: Command = {
  name: "help",
  usage: "help [COMMAND]",
  summary: "list the commands, or one command's usage",
  run(args, out) {
    if (args.length > 0) {
      for (const name of args) {
        const c = COMMANDS.get(name);
        out.line(c ? `${c.usage}\n    ${c.summary}` : `help: ${name}: no such command`);
      }
      return;
    }
    out.line("mkos shell: one command per line; errors read `command: ERRNO: message`.");
    const width = Math.max(...[...COMMANDS.keys()].map((n) => n.length));
    for (const c of COMMANDS.values()) out.line(`  ${c.name.padEnd(width)}  ${c.summary}`);
    out.line("help COMMAND shows its usage.");
  },
};

export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [help, echo, uptime, ps, services, kill, chaos, dd, ls, cat, cp, mkdir, rm].map((c) => [c.name, c]),
);
