// The dashboard (a user-placement service only: it serves HTTP). What tests may import.
export { Actions, FAULTS, HW_FAULTS } from "./actions.ts";
export { Dashboard } from "./dashboard.ts";
export { ConnectionBounds, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS } from "./connections.ts";
export {
  buildDashboardHttp,
  CONSOLE_FRAME_MAX,
  CONSOLE_INPUT_PER_S,
  MAX_CONSOLES,
  MAX_CONSOLES_PER_ADDRESS,
  type ConsoleHub,
} from "./http.ts";
export { EventStreams, MAX_STREAMS, MAX_STREAMS_PER_ADDRESS, STREAM_BACKLOG } from "./streams.ts";
export { CAUSE_WAIT_MS, edgeRates, Model, quantileUs, TIMELINE_MAX, type State, type TimelineEntry } from "./model.ts";
