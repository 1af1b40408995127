// The console's local line discipline. The mkos tty is canonical and does not echo: it
// hands the shell a line when it sees "\n". So the page echoes what is typed, lets
// backspace edit the line, and sends the whole line on Enter, as a terminal user expects.

export interface LineEditorIo {
  echo(text: string): void;
  send(line: string): void;
}

export class LineEditor {
  private line: string[] = [];

  private readonly io: LineEditorIo;

  constructor(io: LineEditorIo) {
    this.io = io;
  }

  /** xterm's onData: one key, an escape sequence, or a whole paste. */
  input(data: string): void {
    // Arrow keys and other escape sequences have no meaning to a canonical line reader.
    if (data.startsWith("\x1b")) return;
    for (const ch of data) this.key(ch);
  }

  private key(ch: string): void {
    switch (ch) {
      case "\r":
      case "\n":
        this.io.echo("\r\n");
        this.io.send(`${this.line.join("")}\n`);
        this.line = [];
        return;
      case "\x7f":
      case "\b":
        if (this.line.length > 0) {
          this.line.pop();
          this.io.echo("\b \b");
        }
        return;
      case "\x03": // ^C and ^U drop the line being typed; the tty knows no signals to send.
        this.io.echo("^C\r\n");
        this.line = [];
        return;
      case "\x15":
        this.io.echo("\b \b".repeat(this.line.length));
        this.line = [];
        return;
      default:
        if (ch < " ") return;
        this.line.push(ch);
        this.io.echo(ch);
    }
  }
}
