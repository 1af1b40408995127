// The read-eval loop on the serial console: banner, prompt, then a line at a time, run and
// answered, for as long as the process lives. No line ends it, and neither does tty going
// away (the console follows tty's next generation and prompts again there) or any other
// failure (tried again, more slowly each time in a row). It ends only when stopped, or when
// a newer process of its own label has superseded it (one shell per label).
import { isMkError, MkError } from "#abi";
import { sysGetPrivileges, type Logger } from "#libsys";
import { isIdle, type LineConsole } from "./console.ts";
import type { ShellDeps } from "./deps.ts";
import { MAX_LINE } from "./parse.ts";
import { errorLine, run } from "./run.ts";

export const PROMPT = "mkos$ ";
/** Pauses after a console failure: doubling from the first, up to the last. */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

export class Shell {
  private readonly console: LineConsole;
  private readonly deps: ShellDeps;
  private readonly log: Logger;
  private stopping = false;

  constructor(console: LineConsole, deps: ShellDeps, log: Logger) {
    this.console = console;
    this.deps = deps;
    this.log = log;
  }

  banner(): string {
    return `\nmkos shell (${this.deps.sys.self}): type help for the commands\n${PROMPT}`;
  }

  stop(): void {
    this.stopping = true;
  }

  /** Writes, and on failure says so in the log: output is lost, the shell goes on. */
  async say(text: string): Promise<void> {
    await this.console.write(text).catch((e: unknown) => {
      if (!this.stopping) this.log.warn({ err: errorLine("write", e) }, "console write failed: output lost");
    });
  }

  /** Runs until stopped; resolves with why it ended ("stopped" or "superseded"). */
  async loop(): Promise<"stopped" | "superseded"> {
    await this.say(this.banner());
    let failures = 0;
    while (!this.stopping) {
      let text: string;
      try {
        const got = await this.console.readLine();
        failures = 0;
        text =
          "line" in got
            ? await run(got.line, this.deps)
            : `${errorLine("sh", new MkError("E2BIG", `line of ${got.overlong} bytes is over the ${MAX_LINE}-byte limit`))}\n`;
      } catch (e) {
        if (this.stopping) break;
        if (isIdle(e)) continue;
        if (isMkError(e, "EDEADSRCDST") && (await this.superseded())) return "superseded";
        const pause = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures++, 8));
        this.log.warn({ err: errorLine("read", e), pauseMs: pause }, "console read failed: trying again");
        await this.deps.clock.sleep(pause);
        continue;
      }
      await this.say(`${text}${PROMPT}`);
    }
    return "stopped";
  }

  /**
   * Whether the kernel refuses this incarnation itself. A restarted kernel-core does so
   * until the shell has registered again, but the console read has already waited that out
   * (Recovering gives up only after 10 s of refusals), so a refusal now means superseded.
   */
  private async superseded(): Promise<boolean> {
    return sysGetPrivileges(this.deps.sys).then(
      () => false,
      (e: unknown) => isMkError(e, "EDEADSRCDST"),
    );
  }
}
