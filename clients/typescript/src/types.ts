/** Any JSON value. */
export type Json =
  | null
  | boolean
  | number
  | string
  | Json[]
  | { [key: string]: Json };

/** A JSON object (session and snapshot metadata). */
export type JsonObject = { [key: string]: Json };

/** A session, as `GET /v1/sessions/{id}` answers it. */
export interface Session {
  id: string;
  created_at: string;
  last_active: string;
  /** Set when the session has a TTL: it expires then unless touched. */
  expires_at?: string;
  ttl_seconds?: number;
  metadata: JsonObject;
  /** The latest snapshot's version (0: none yet). */
  version: number;
  snapshot_count: number;
}

/** A snapshot. `state` is absent in histories read without `includeState`. */
export interface Snapshot<S = Json> {
  session_id: string;
  version: number;
  created_at: string;
  state?: S;
  metadata: JsonObject;
  size_bytes: number;
  /** The client's name for it, when it was appended with one. */
  key?: string;
}

/** The answer of an append. */
export interface AppendResult {
  session_id: string;
  version: number;
  created_at: string;
  size_bytes: number;
  key?: string;
  /**
   * True when the server answered an earlier identical request
   * (Idempotent-Replayed). Always false for `appendBatch`, whose answer
   * does not say.
   */
  replayed: boolean;
}

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call, also while it waits to retry. */
  signal?: AbortSignal;
}

export interface CreateSessionInput {
  /** Generated (a UUIDv7) when absent. */
  id?: string;
  metadata?: JsonObject;
  ttlSeconds?: number;
}

export interface PutSessionInput {
  metadata?: JsonObject;
  ttlSeconds?: number;
}

export interface AppendOptions extends CallOptions {
  metadata?: JsonObject;
  /** Names the snapshot (unique in its session): read it back with `getSnapshotByKey`. */
  key?: string;
  /** Append only if this is the latest version (0: the session has none yet); else 412. */
  ifMatch?: number;
  /**
   * The Idempotency-Key; one is generated for every call when absent, so
   * that a retry after a network failure appends once.
   */
  idempotencyKey?: string;
}

export interface BatchItem<S = Json> {
  sessionId: string;
  state: S;
  metadata?: JsonObject;
  key?: string;
  expectedVersion?: number;
  /** Generated when absent, as for `append`. */
  idempotencyKey?: string;
}

/** A filter on top-level metadata values (exact match, all keys). */
export type MetadataFilter = { [key: string]: string | number | boolean | null };

export interface ListSessionsOptions extends CallOptions {
  /** Only sessions active at or after this time. */
  activeSince?: Date | string;
  /** Page size (server default when absent; at most 1000). */
  pageSize?: number;
  /** Only sessions whose metadata holds all these values. */
  metadata?: MetadataFilter;
  /** Start from this cursor (a `nextCursor` of an earlier page). */
  cursor?: string;
}

export interface HistoryOptions extends CallOptions {
  /** Page size (server default when absent; at most 1000). */
  pageSize?: number;
  /** Only versions below this one. */
  before?: number;
  /** Include each snapshot's state (default false). */
  includeState?: boolean;
  /** Only snapshots whose metadata holds all these values. */
  metadata?: MetadataFilter;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Absent on the last page. */
  nextCursor?: string;
}

export interface ForkInput {
  newId?: string;
  /** 0 or absent: the latest. */
  atVersion?: number;
}

export interface WatchOptions extends CallOptions {
  /** Start after this version: every later snapshot still kept is sent first. */
  afterVersion?: number;
  /** Send each snapshot's state with its event. */
  includeState?: boolean;
}

/** One event of a watch. */
export type WatchEvent<S = Json> =
  | { type: "session"; session: Session }
  | { type: "snapshot"; snapshot: Snapshot<S> }
  | { type: "deleted"; sessionId: string };
