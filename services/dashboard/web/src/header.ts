// The header: is the kernel up and for how long, is the stream live, may this page act.

import { byTestId, setAttr, setText } from "./dom.ts";
import { duration } from "./format.ts";
import type { StreamStatus } from "./stream.ts";
import type { KernelInfo } from "./types.ts";

export class Header {
  private readonly kernel = byTestId("kernel");
  private readonly uptime = byTestId("uptime");
  private readonly stream = byTestId("stream-status");
  private readonly mode = byTestId("mode");

  setMode(hasToken: boolean): void {
    setText(this.mode, hasToken ? "control" : "read-only");
    setAttr(this.mode, "data-status", hasToken ? "ok" : "off");
    this.mode.title = hasToken
      ? "a token is present: the controls act"
      : "no token: open the URL with the token the dashboard printed at start-up to act";
  }

  setStream(s: StreamStatus): void {
    setText(this.stream, s);
    setAttr(this.stream, "data-status", s === "live" ? "ok" : "warn");
  }

  setKernel(k: KernelInfo): void {
    setText(this.kernel, k.up ? "kernel up" : "kernel down");
    setAttr(this.kernel, "data-status", k.up ? "ok" : "bad");
    const pid = k.pid === null ? "" : ` · pid ${k.pid}`;
    setText(this.uptime, k.up && k.uptime_ms !== null ? `up ${duration(k.uptime_ms)}${pid}` : "");
  }
}
