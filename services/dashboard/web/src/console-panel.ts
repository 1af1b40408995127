// The console: an xterm.js terminal on the websocket /api/console, attached to the UART
// through the tty driver. Output bytes are written as they come; JSON notices and errors
// show as dim lines; the socket reconnects with backoff when it closes (a restarted stack).

import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { LineEditor } from "./line-editor.ts";
import { parseApiError } from "./parse.ts";

const MAX_FRAME = 4096;
const MIRROR_MAX = 64 * 1024;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;

function consoleUrl(token: string | null): string {
  const url = new URL("api/console", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  if (token !== null) url.searchParams.set("token", token);
  return url.toString();
}

function noticeText(raw: string): string {
  try {
    const v: unknown = JSON.parse(raw);
    const e = parseApiError(v);
    if (e !== null) return `${e.code}: ${e.message}`;
    if (typeof v === "object" && v !== null && "notice" in v && typeof v.notice === "string") return v.notice;
  } catch {
    // Not JSON: show it as it came.
  }
  return raw;
}

export class ConsolePanel {
  readonly term: Terminal;
  private ws: WebSocket | null = null;
  private backoff = BACKOFF_MIN_MS;
  private mirror = "";
  private readonly decoder = new TextDecoder();
  private readonly encoder = new TextEncoder();
  /** Whether the last thing written ended a line; xterm's own cursor lags its write queue. */
  private atLineStart = true;

  private readonly token: () => string | null;
  /** Told the last 64 KiB of output each time it grows (window.mkos.consoleText). */
  private readonly onText: (text: string) => void;

  constructor(container: HTMLElement, token: () => string | null, onText: (text: string) => void) {
    this.token = token;
    this.onText = onText;
    this.term = new Terminal({
      convertEol: true,
      cursorBlink: true,
      fontSize: 13,
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace",
      scrollback: 2000,
      theme: { background: "#0d1117", foreground: "#c9d1d9", cursor: "#58a6ff", selectionBackground: "#264f78" },
    });
    const fit = new FitAddon();
    this.term.loadAddon(fit);
    this.term.open(container);
    new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        // A hidden container has no size to fit to; the next resize will.
      }
    }).observe(container);
    const editor = new LineEditor({ echo: (t) => this.write(t), send: (l) => this.send(l) });
    this.term.onData((d) => editor.input(d));
    this.connect();
  }

  private connect(): void {
    const ws = new WebSocket(consoleUrl(this.token()));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = BACKOFF_MIN_MS;
      this.dim(this.token() === null ? "console attached (read-only: no token)" : "console attached");
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data === "string") {
        this.dim(noticeText(ev.data));
        return;
      }
      const bytes = new Uint8Array(ev.data);
      if (bytes.length === 0) return;
      this.write(bytes);
      this.record(this.decoder.decode(bytes, { stream: true }));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
      this.dim(`console closed (${ev.code}); reconnecting in ${(wait / 1000).toFixed(1)} s`);
      setTimeout(() => this.connect(), wait);
    };
  }

  private send(line: string): void {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) {
      this.dim("not connected: the line was not sent");
      return;
    }
    const bytes = this.encoder.encode(line);
    for (let i = 0; i < bytes.length; i += MAX_FRAME) ws.send(bytes.subarray(i, i + MAX_FRAME));
  }

  private dim(text: string): void {
    // Start on a fresh line only when the shell left the cursor mid-line (a prompt).
    const fresh = this.atLineStart ? "" : "\r\n";
    this.write(`${fresh}\x1b[2m[${text}]\x1b[0m\r\n`);
    this.record(`[${text}]\n`);
  }

  private write(data: string | Uint8Array): void {
    if (data.length === 0) return;
    this.term.write(data);
    const last = typeof data === "string" ? data.charCodeAt(data.length - 1) : data[data.length - 1];
    this.atLineStart = last === 0x0a;
  }

  private record(text: string): void {
    this.mirror += text;
    if (this.mirror.length > MIRROR_MAX) this.mirror = this.mirror.slice(-MIRROR_MAX);
    this.onText(this.mirror);
  }
}
