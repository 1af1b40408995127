// The dashboard page's entry point: takes the token, fetches what the chaos panel offers,
// opens the event stream and hands each event to the panels that show it.

import "uplot/dist/uPlot.min.css";
import "@xterm/xterm/css/xterm.css";
import "./style.css";

import type cytoscape from "cytoscape";
import { getJson } from "./api.ts";
import { ChaosPanel } from "./chaos-panel.ts";
import { busiestPath, Charts } from "./charts.ts";
import { ConsolePanel } from "./console-panel.ts";
import { byTestId, within } from "./dom.ts";
import { EndpointTable } from "./endpoint-table.ts";
import { Header } from "./header.ts";
import { LatencyTable } from "./latency-table.ts";
import { PathTable, TracePanel } from "./trace-panel.ts";
import { MessageArea } from "./message-area.ts";
import { parseMeta } from "./parse.ts";
import { SchedTable } from "./sched-table.ts";
import { openStream } from "./stream.ts";
import { Timeline } from "./timeline.ts";
import { takeToken } from "./token.ts";
import { Topology } from "./topology.ts";
import type { State } from "./types.ts";
import { WorkloadPanel } from "./workload-panel.ts";

/** What the browser test reads: kept stable, see docs/dashboard.md. */
export interface MkosHooks {
  cy: cytoscape.Core;
  lastState: State | null;
  consoleText: string;
}

declare global {
  interface Window {
    mkos: MkosHooks;
  }
}

const META_RETRY_MAX_MS = 10_000;

function tbody(testId: string): HTMLTableSectionElement {
  const t = byTestId(testId);
  return t instanceof HTMLTableSectionElement ? t : within<HTMLTableSectionElement>(t, "tbody");
}

/**
 * Without the token nothing on the page can act: every control that would change the system
 * (chaos, hardware faults, experiments, the workload's rate) is disabled and says why,
 * rather than looking usable and answering EACCES (the server refuses them all the same).
 */
function disableControls(): void {
  const why = "read-only: open the URL with the token the dashboard printed at start-up to act";
  for (const el of document.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement>(
    ".panel.chaos button, .panel.chaos select, .panel.chaos input, .panel.workload button, .panel.workload input, [data-testid=trace] button",
  )) {
    el.disabled = true;
    el.title = why;
  }
  for (const panel of document.querySelectorAll(".panel.chaos, .panel.workload")) panel.classList.add("read-only");
}

function main(): void {
  const token = takeToken();
  const getToken = (): string | null => token;

  const header = new Header();
  header.setMode(token !== null);
  if (token === null) disableControls();
  const messages = new MessageArea(byTestId("chaos-message"));
  const topology = new Topology(byTestId("topology"));
  const endpoints = new EndpointTable(tbody("endpoint-table"));
  const timeline = new Timeline(byTestId<HTMLOListElement>("timeline"));
  const latency = new LatencyTable(tbody("latency-table"));
  const paths = new PathTable(tbody("paths-table"));
  const sched = new SchedTable(byTestId("sched-panel"), tbody("sched-table"));
  const charts = new Charts(byTestId("rate-chart"), byTestId("latency-chart"), byTestId("latency-caption"));
  const workload = new WorkloadPanel(getToken, messages);
  const chaos = new ChaosPanel(getToken, messages);
  new TracePanel(getToken, messages);

  const hooks: MkosHooks = { cy: topology.cy, lastState: null, consoleText: "" };
  window.mkos = hooks;
  new ConsolePanel(byTestId("console"), getToken, (text) => {
    hooks.consoleText = text;
  });

  // The stack may still be starting: keep asking for the meta until it answers.
  const loadMeta = (wait: number): void => {
    getJson("api/meta")
      .then((v) => {
        const meta = parseMeta(v);
        chaos.setMeta(meta);
        workload.setMax(meta.workload.max_rate);
      })
      .catch((err: unknown) => {
        console.warn("meta:", err);
        setTimeout(() => loadMeta(Math.min(wait * 2, META_RETRY_MAX_MS)), wait);
      });
  };
  loadMeta(500);

  openStream("api/stream", {
    status: (s) => header.setStream(s),
    state: (s) => {
      hooks.lastState = s;
      header.setKernel(s.kernel);
      topology.update(s);
      endpoints.update(s);
      latency.update(s.latency, busiestPath(s.latency)?.path ?? null);
      paths.update(s.paths);
      sched.update(s.sched);
      workload.update(s.workload, s.t);
      charts.update(s);
    },
    history: (h) => timeline.replace(h),
    timeline: (e) => timeline.add(e),
    experiment: (e) => chaos.showExperiment(e),
  });

  window.addEventListener("resize", () => topology.resize());
}

main();
