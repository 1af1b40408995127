// Each command's own help, as git and kubectl give it: `mkctl ps --help`, `mkctl help ps`.
// The overview (`mkctl --help`) stays in main.ts; services/mkctl/README.md is the reference.

interface CommandHelp {
  usage: string;
  what: string;
  options?: [string, string][];
  example: string;
}

const RUN_DIR: [string, string] = ["--run-dir DIR", "the system's run directory (default .mkos/run, or MKOS_RUN_DIR)"];
const JSON_OPT: [string, string] = ["--json", "one JSON document instead of the table"];

const HELP: Record<string, CommandHelp> = {
  up: {
    usage: "mkctl up [--demo] [--arch NAME] [--foreground] [--system FILE] [--disk FILE] [--run-dir DIR]",
    what: "Boots a process-mode system (nats-server, the emulator, kernel-core, rs and every service) and waits until all are ready. The last line is the dashboard's URL with its token.",
    options: [
      ["--demo", "also run the demo workload (5 operations/s)"],
      [
        "--arch NAME",
        "the kernel architecture (etc/arch): microkernel (the table as it is), hybrid (file systems inside kernel-core), monolithic (every driver and server inside)",
      ],
      ["--foreground", "stay attached; Ctrl-C stops the system"],
      ["--system FILE", "the privilege table (default etc/system.yaml)"],
      ["--disk FILE", "the disk image (default: in the run directory)"],
      RUN_DIR,
    ],
    example: "MKOS_DASHBOARD_PORT=8081 mkctl up --demo",
  },
  arch: {
    usage: "mkctl arch [--json] [--run-dir DIR]",
    what: "Says which kernel architecture is running (the profile in etc/arch whose services are the ones inside kernel-core, or custom) and where each service sits: inside kernel-core or in its own process.",
    options: [JSON_OPT, RUN_DIR],
    example: "mkctl up --arch monolithic && mkctl arch",
  },
  down: { usage: "mkctl down [--run-dir DIR]", what: "Stops every process mkctl up started.", options: [RUN_DIR], example: "mkctl down" },
  ps: {
    usage: "mkctl ps [--json] [--run-dir DIR]",
    what: "Prints the kernel's endpoint table: each incarnation, its state, placement, pid and messages. With MK_CREDS set it asks that system (compose).",
    options: [JSON_OPT, RUN_DIR],
    example: "docker compose run --rm --no-deps mkctl ps",
  },
  services: {
    usage: "mkctl services [--json] [--run-dir DIR]",
    what: "Prints rs's table: state, generation, restarts, last cause, time to detect and to serve again.",
    options: [JSON_OPT, RUN_DIR],
    example: "mkctl services --json",
  },
  events: {
    usage: "mkctl events [--json] [--count N] [--for MS] [--run-dir DIR]",
    what: "Follows the kernel's and rs's event streams: starts, readiness, deaths with their cause, privilege denials.",
    options: [JSON_OPT, ["--count N", "stop after N kernel events"], ["--for MS", "stop after MS milliseconds"], RUN_DIR],
    example: "mkctl events --for 10000",
  },
  kill: {
    usage: "mkctl kill PART [--signal SIG] [--run-dir DIR]",
    what: "Sends a signal to one part's process: SIGKILL (default) is a crash rs repairs, SIGSTOP a hang its heartbeat finds. PART is nats, kernel, hardware, rs or a service label.",
    options: [["--signal SIG", "SIGKILL, SIGSTOP, SIGCONT, SIGTERM..."], RUN_DIR],
    example: "mkctl kill ata --signal SIGSTOP",
  },
  start: {
    usage: "mkctl start PART [--run-dir DIR]",
    what: "Starts a part (again): a process of it that still runs is stopped first; a service gets its next generation through rs.",
    options: [RUN_DIR],
    example: "mkctl start kernel",
  },
  stop: {
    usage: "mkctl stop LABEL [--run-dir DIR]",
    what: "Stops a service by hand: rs does not restart it until mkctl restart.",
    options: [RUN_DIR],
    example: "mkctl stop tty",
  },
  restart: {
    usage: "mkctl restart LABEL [--run-dir DIR]",
    what: "Starts a service again through rs and clears a failed state.",
    options: [RUN_DIR],
    example: "mkctl restart tty",
  },
  chaos: {
    usage: "mkctl chaos run FILE [--json] [--journal PATH] [--attach [--run-dir DIR] | --compose [--project P]]",
    what: "Runs a chaos experiment: checks the steady state, injects the faults under a verifying workload, checks again. Exit 0 held, 1 deviated, 2 bad file (docs/chaos.md).",
    options: [
      ["--json", "print the journal instead of the summary"],
      ["--journal PATH", "where the journal goes (default journal.json)"],
      ["--attach", "use the system mkctl up started instead of booting a fresh one"],
      ["--compose", "use the running compose stack (--project P)"],
    ],
    example: "mkctl chaos run experiments/mixed-faults.yaml",
  },
  fs: {
    usage:
      "mkctl fs ls [-l] [--json] [PATH] | cat PATH | stat [--json] PATH | tree [PATH] | df [--json]\n       mkctl fs put LOCAL PATH | get PATH LOCAL | mkdir [-p] PATH | rm [-r] PATH | mv FROM TO",
    what: "Works on the running system's files as a user program sees them, through vfs. Paths are absolute; LOCAL - is stdin or stdout.",
    options: [["-l", "ls: long listing"], ["-p", "mkdir: parents too"], ["-r", "rm: recursively"], JSON_OPT, RUN_DIR],
    example: "mkctl fs put README.md /home/ast/README.md",
  },
  fsck: {
    usage: "mkctl fsck [--repair] [--json] [--run-dir DIR]",
    what: "Asks mfs to check its disk (and with --repair to mend it) while no file is open.",
    options: [["--repair", "mend what the check finds"], JSON_OPT, RUN_DIR],
    example: "mkctl fsck --repair",
  },
  mkfs: {
    usage: "mkctl mkfs [--block-size 1024|2048|4096] --yes [--run-dir DIR]",
    what: "Makes a new, empty file system on mfs's disk area. Everything on it is lost.",
    options: [["--block-size N", "1024 (default: the size util-linux reads), 2048 or 4096"], ["--yes", "required: you mean it"], RUN_DIR],
    example: "mkctl mkfs --yes",
  },
  top: {
    usage: "mkctl top [--json] [--count N] [--interval MS] [--run-dir DIR]",
    what: "Shows the kernel's process table live: state, queue, quantum, CPU, switches (docs/scheduling.md).",
    options: [["--json", "one sample"], ["--count N", "N frames, then exit"], ["--interval MS", "between frames (default 1000)"], RUN_DIR],
    example: "mkctl top --count 3",
  },
  trace: {
    usage: "mkctl trace ping LABEL | stat PATH [--count N] [--json] [--run-dir DIR]",
    what: "Sends one request N times under a sampled trace and prints the median one hop by hop: each hop's transit and the next party's work, and the calls each server made for it, on one time line (docs/ipc.md).",
    options: [["--count N", "runs (default 5); the median is shown"], JSON_OPT, RUN_DIR],
    example: "mkctl trace stat /",
  },
  nice: {
    usage: "mkctl nice LABEL N [--run-dir DIR]",
    what: "Sets a label's nice value (-20..19); the fair policy turns it into a weight. Holds until kernel-core restarts.",
    options: [RUN_DIR],
    example: "mkctl nice spin -6",
  },
  console: {
    usage: "mkctl console [--quiet MS] [--run-dir DIR]",
    what: "A terminal on the serial console, the mkos shell on it; Ctrl-] leaves. From a pipe it is scriptable.",
    options: [["--quiet MS", "from a pipe: leave after MS ms without output"], RUN_DIR],
    example: "echo services | mkctl console",
  },
  workload: {
    usage: "mkctl workload [rate N] [--json] [--run-dir DIR]",
    what: "The demo workload's counts, or its rate in operations/s (0-200; 0 lets the system idle).",
    options: [JSON_OPT, RUN_DIR],
    example: "mkctl workload rate 20",
  },
  logs: {
    usage: "mkctl logs [PART...] [-f] [--tail N] [--run-dir DIR]",
    what: "Prints a process-mode system's logs (pino JSON, one file per part in <run dir>/logs), each line prefixed with its part when there are several, as docker compose logs does.",
    options: [
      ["-f, --follow", "keep printing new lines until Ctrl-C"],
      ["--tail N", "start from each file's last N lines (default all)"],
      RUN_DIR,
    ],
    example: "mkctl logs ata kernel -f --tail 20",
  },
  "gen-config": {
    usage: "mkctl gen-config --out DIR --url nats://nats:4222 [--system FILE]",
    what: "Writes the NATS config and one credential per service for the compose stack (the config container runs it). MK_UIDS=label=uid,... sets each credential's owner.",
    options: [
      ["--out DIR", "where to write"],
      ["--url URL", "the NATS URL the services use"],
      ["--system FILE", "the privilege table"],
    ],
    example: "mkctl gen-config --out /run/mkos --url nats://nats:4222",
  },
};

/** The commands that have their own help. */
export const COMMANDS = Object.keys(HELP);

/** One command's help, or undefined for a command mkctl does not have. */
export function commandHelp(cmd: string): string | undefined {
  const h = HELP[cmd];
  if (!h) return undefined;
  const width = Math.max(...(h.options ?? []).map(([o]) => o.length));
  const options = h.options?.length ? `\noptions:\n${h.options.map(([o, d]) => `  ${o.padEnd(width)}  ${d}`).join("\n")}` : "";
  return `usage: ${h.usage}\n\n${wrap(h.what, 88)}\n${options}\n\nexample:\n  ${h.example}`;
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join("\n");
}
