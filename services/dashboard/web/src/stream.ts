// The server-sent event stream: the page is pushed a State every second and each timeline
// entry as it happens. EventSource reconnects by itself after a dropped connection; after
// an HTTP error (a proxy's 502 while the stack restarts) it gives up, so the
// page opens a fresh one with backoff.

import { parseExperiment, parseHistory, parseState, parseTimelineEntry } from "./parse.ts";
import type { ExperimentEvent, State, TimelineEntry } from "./types.ts";

export type StreamStatus = "connecting" | "live" | "reconnecting";

export interface StreamHandlers {
  status(s: StreamStatus): void;
  state(s: State): void;
  history(h: TimelineEntry[]): void;
  timeline(e: TimelineEntry): void;
  experiment(e: ExperimentEvent): void;
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;

export function openStream(url: string, h: StreamHandlers): void {
  let backoff = BACKOFF_MIN_MS;

  const listen = <T>(es: EventSource, name: string, parse: (v: unknown) => T, use: (v: T) => void): void => {
    es.addEventListener(name, (ev) => {
      try {
        use(parse(JSON.parse((ev as MessageEvent<string>).data) as unknown));
      } catch (err) {
        console.warn(`stream: bad ${name} event`, err);
      }
    });
  };

  const connect = (): void => {
    h.status("connecting");
    const es = new EventSource(url);
    es.onopen = () => {
      backoff = BACKOFF_MIN_MS;
      h.status("live");
    };
    es.onerror = () => {
      h.status("reconnecting");
      if (es.readyState === EventSource.CLOSED) {
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    };
    listen(es, "state", parseState, h.state);
    listen(es, "history", parseHistory, h.history);
    listen(es, "timeline", parseTimelineEntry, h.timeline);
    listen(es, "experiment", parseExperiment, h.experiment);
  };

  connect();
}
