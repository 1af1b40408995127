// The dashboard (a user-placement service only: it serves HTTP). What tests may import.
export { ConnectionBounds, MAX_CONNECTIONS } from "./connections.ts";
export { MAX_CONSOLES_PER_ADDRESS } from "./http.ts";
export { EventStreams, MAX_STREAMS, MAX_STREAMS_PER_ADDRESS } from "./streams.ts";
export { CAUSE_WAIT_MS, edgeRates, Model, quantileUs, TIMELINE_MAX, type State, type TimelineEntry } from "./model.ts";
