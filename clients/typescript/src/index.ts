/**
 * The TypeScript client of cortex's HTTP API: sessions and versioned JSON
 * snapshots. ESM, no runtime dependencies (the global `fetch`).
 */
export { Client, parseRetryAfter, type ClientOptions } from "./client.js";
export { CortexError, type Problem } from "./errors.js";
export { readEvents, type SSEEvent } from "./sse.js";
export type * from "./types.js";
