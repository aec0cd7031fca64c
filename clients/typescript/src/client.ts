import { CortexError, plainError, type Problem } from "./errors.js";
import { readEvents } from "./sse.js";
import type {
  AppendOptions,
  AppendResult,
  BatchItem,
  CallOptions,
  CreateSessionInput,
  ForkInput,
  HistoryOptions,
  Json,
  ListSessionsOptions,
  MetadataFilter,
  Page,
  PutSessionInput,
  Session,
  Snapshot,
  WatchEvent,
  WatchOptions,
} from "./types.js";

/** Options of a Client. Every field has a working default but `baseUrl`. */
export interface ClientOptions {
  /** The server, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` (the server's `--api-token`). */
  token?: string;
  /**
   * How many times a request is retried after a 503/429 answer or, when a
   * retry is safe, a network failure (default 4; 0: never).
   */
  retries?: number;
  /** The first backoff; it doubles per retry, with jitter (default 100 ms). */
  retryBaseMs?: number;
  /** No wait between tries is longer, Retry-After included (default 10 s). */
  maxRetryDelayMs?: number;
  /** Each try of a request is aborted after this long (default: none). Not for watch. */
  timeoutMs?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/** How a request may be retried after a network failure. */
type Retry = "safe" | "unsafe";

interface RequestInit2 extends CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  query?: URLSearchParams;
  /** "safe": a network failure is retried too (GET, PUT, idempotency-keyed appends). */
  retry: Retry;
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

const defaultRetries = 4;

/**
 * A client of one cortex server. Safe for concurrent use; it keeps no
 * state between calls except its options.
 *
 * ```ts
 * const c = new Client({ baseUrl: "http://127.0.0.1:8080", token: process.env.CORTEX_TOKEN });
 * await c.putSession("agent-42", { metadata: { team: "a" } });
 * const { version } = await c.append("agent-42", { step: 1 });
 * const snap = await c.latest("agent-42");
 * ```
 */
export class Client {
  readonly baseUrl: string;
  private readonly token?: string;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly timeoutMs?: number;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ClientOptions) {
    if (!opts || !opts.baseUrl) {
      throw new TypeError("cortex: ClientOptions.baseUrl is required, e.g. http://127.0.0.1:8080");
    }
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.token = opts.token || undefined;
    this.retries = opts.retries ?? defaultRetries;
    this.retryBaseMs = opts.retryBaseMs ?? 100;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  // ---- sessions

  /** Creates a session (201); a taken id is a CortexError 409. */
  async createSession(input: CreateSessionInput = {}, opts: CallOptions = {}): Promise<Session> {
    const a = await this.request("POST", "/v1/sessions", {
      ...opts,
      body: { id: input.id, metadata: input.metadata, ttl_seconds: input.ttlSeconds },
      // Without an id a retried create could make two sessions.
      retry: input.id ? "safe" : "unsafe",
    });
    return a.body as Session;
  }

  /** Creates the session or updates its metadata/TTL (and touches it). */
  async putSession(
    id: string,
    input: PutSessionInput = {},
    opts: CallOptions = {},
  ): Promise<{ session: Session; created: boolean }> {
    const a = await this.request("PUT", `/v1/sessions/${enc(id)}`, {
      ...opts,
      body: { metadata: input.metadata, ttl_seconds: input.ttlSeconds },
      retry: "safe",
    });
    return { session: a.body as Session, created: a.status === 201 };
  }

  async getSession(id: string, opts: CallOptions = {}): Promise<Session> {
    return (await this.request("GET", `/v1/sessions/${enc(id)}`, { ...opts, retry: "safe" })).body;
  }

  /** Marks the session active (pushes its expiry back). */
  async touchSession(id: string, opts: CallOptions = {}): Promise<Session> {
    return (await this.request("POST", `/v1/sessions/${enc(id)}/touch`, { ...opts, retry: "safe" })).body;
  }

  /**
   * Deletes the session and its snapshots. A 404 on a retry after a network
   * failure counts as done (the first try deleted it).
   */
  async deleteSession(id: string, opts: CallOptions = {}): Promise<void> {
    await this.request("DELETE", `/v1/sessions/${enc(id)}`, { ...opts, retry: "safe" });
  }

  /** One page of sessions, newest-active first. */
  async listSessionsPage(opts: ListSessionsOptions = {}): Promise<Page<Session>> {
    const q = new URLSearchParams();
    if (opts.activeSince !== undefined) {
      q.set("active_since", opts.activeSince instanceof Date ? opts.activeSince.toISOString() : opts.activeSince);
    }
    if (opts.pageSize !== undefined) q.set("limit", String(opts.pageSize));
    if (opts.cursor) q.set("cursor", opts.cursor);
    addMetadata(q, opts.metadata);
    const a = await this.request("GET", "/v1/sessions", { ...opts, query: q, retry: "safe" });
    return { items: a.body.sessions ?? [], nextCursor: a.body.next_cursor || undefined };
  }

  /**
   * Every session (newest-active first), following the cursors; with
   * `metadata`, only those whose metadata holds those values (a search).
   */
  async *listSessions(opts: ListSessionsOptions = {}): AsyncGenerator<Session, void, undefined> {
    let cursor = opts.cursor;
    for (;;) {
      const page = await this.listSessionsPage({ ...opts, cursor });
      yield* page.items;
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }

  /** A new session holding a copy of the history up to `atVersion` (0: latest). */
  async fork(id: string, input: ForkInput = {}, opts: CallOptions = {}): Promise<Session> {
    const a = await this.request("POST", `/v1/sessions/${enc(id)}/fork`, {
      ...opts,
      body: { new_id: input.newId, at_version: input.atVersion },
      retry: input.newId ? "safe" : "unsafe",
    });
    return a.body;
  }

  // ---- snapshots

  /**
   * Appends a snapshot. An Idempotency-Key is sent (generated when not
   * given), so a retry after a network failure answers the first result
   * instead of appending twice.
   */
  async append<S = Json>(sessionId: string, state: S, opts: AppendOptions = {}): Promise<AppendResult> {
    const headers: Record<string, string> = {
      "Idempotency-Key": opts.idempotencyKey ?? newKey(),
    };
    if (opts.ifMatch !== undefined) headers["If-Match"] = `"${opts.ifMatch}"`;
    const a = await this.request("POST", `/v1/sessions/${enc(sessionId)}/snapshots`, {
      ...opts,
      headers,
      body: { state, metadata: opts.metadata, key: opts.key },
      retry: "safe",
    });
    return { ...a.body, replayed: a.headers.get("Idempotent-Replayed") === "true" };
  }

  /** Up to 1,000 appends, all or nothing; each item gets an idempotency key. */
  async appendBatch<S = Json>(items: BatchItem<S>[], opts: CallOptions = {}): Promise<AppendResult[]> {
    const base = newKey();
    const body = {
      items: items.map((it, i) => ({
        session_id: it.sessionId,
        state: it.state,
        metadata: it.metadata,
        key: it.key,
        expected_version: it.expectedVersion,
        idempotency_key: it.idempotencyKey ?? `${base}.${i}`,
      })),
    };
    const a = await this.request("POST", "/v1/snapshots:batch", { ...opts, body, retry: "safe" });
    return (a.body.results as AppendResult[]).map((r) => ({ ...r, replayed: !!r.replayed }));
  }

  /** The latest snapshot, with its state. */
  async latest<S = Json>(sessionId: string, opts: CallOptions = {}): Promise<Snapshot<S>> {
    return (await this.request("GET", `/v1/sessions/${enc(sessionId)}/snapshots/latest`, { ...opts, retry: "safe" })).body;
  }

  /**
   * Long poll: the latest snapshot as soon as a version above `afterVersion`
   * exists, or undefined when `waitSeconds` (at most 60) pass first.
   */
  async waitForVersion<S = Json>(
    sessionId: string,
    afterVersion: number,
    opts: CallOptions & { waitSeconds?: number } = {},
  ): Promise<Snapshot<S> | undefined> {
    const q = new URLSearchParams({
      wait: `${opts.waitSeconds ?? 30}s`,
      after_version: String(afterVersion),
    });
    const a = await this.request("GET", `/v1/sessions/${enc(sessionId)}/snapshots/latest`, {
      ...opts,
      query: q,
      retry: "safe",
      noTimeout: true,
    } as RequestInit2);
    return a.status === 304 ? undefined : a.body;
  }

  /** One version of a session, with its state. */
  async getSnapshot<S = Json>(sessionId: string, version: number, opts: CallOptions = {}): Promise<Snapshot<S>> {
    return (await this.request("GET", `/v1/sessions/${enc(sessionId)}/snapshots/${version}`, { ...opts, retry: "safe" })).body;
  }

  /** The snapshot appended with that `key`, with its state. */
  async getSnapshotByKey<S = Json>(sessionId: string, key: string, opts: CallOptions = {}): Promise<Snapshot<S>> {
    return (await this.request("GET", `/v1/sessions/${enc(sessionId)}/snapshots/by-key/${enc(key)}`, { ...opts, retry: "safe" })).body;
  }

  /** One page of a session's history, newest first. */
  async historyPage<S = Json>(sessionId: string, opts: HistoryOptions = {}): Promise<Page<Snapshot<S>>> {
    const q = new URLSearchParams();
    if (opts.pageSize !== undefined) q.set("limit", String(opts.pageSize));
    if (opts.before !== undefined) q.set("before", String(opts.before));
    if (opts.includeState) q.set("include_state", "true");
    if (opts.cursor) q.set("cursor", opts.cursor);
    addMetadata(q, opts.metadata);
    const a = await this.request("GET", `/v1/sessions/${enc(sessionId)}/snapshots`, { ...opts, query: q, retry: "safe" });
    return { items: a.body.snapshots ?? [], nextCursor: a.body.next_cursor || undefined };
  }

  /** A session's whole history (or the part the options select), newest first. */
  async *history<S = Json>(sessionId: string, opts: HistoryOptions = {}): AsyncGenerator<Snapshot<S>, void, undefined> {
    let cursor = opts.cursor;
    for (;;) {
      const page = await this.historyPage<S>(sessionId, { ...opts, cursor });
      yield* page.items;
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }

  // ---- watch

  /**
   * The session's events as they happen (Server-Sent Events read with
   * fetch): the session first, then one `snapshot` per append in version
   * order, `deleted` last. A dropped stream (or a server shutting down) is
   * reopened from the last version seen, so nothing is lost or repeated;
   * `retries` reopenings in a row without progress (no snapshot, and under
   * 10 s each) end the watch with a CortexError.
   * Leaving the loop (break) or aborting `signal` closes the stream.
   */
  async *watch<S = Json>(sessionId: string, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<S>, void, undefined> {
    let after = opts.afterVersion;
    // Reopenings in a row without progress: a stream that delivered a
    // snapshot or lasted 10 s starts the count again.
    let failures = 0;
    let retryMs = 2000;
    let opened = 0;
    let progressed = false;
    const settle = () => {
      if (opened > 0 && (progressed || Date.now() - opened > 10_000)) failures = 0;
      opened = 0;
      progressed = false;
    };
    for (;;) {
      throwIfAborted(opts.signal);
      const ac = new AbortController();
      const onAbort = () => ac.abort(opts.signal?.reason);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const q = new URLSearchParams();
      if (opts.includeState) q.set("include_state", "true");
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (after !== undefined) headers["Last-Event-ID"] = String(after);
      let res: Response | undefined;
      try {
        try {
          res = await this.fetchFn(this.url(`/v1/sessions/${enc(sessionId)}/events`, q), {
            method: "GET",
            headers: this.headers(headers),
            signal: ac.signal,
          });
        } catch (err) {
          if (opts.signal?.aborted) throw opts.signal.reason;
          if (++failures > this.retries) throw networkError("GET", "events", err);
          await sleep(this.backoff(failures - 1), opts.signal);
          continue;
        }
        if (res.status !== 200) {
          const e = await errorOf(res, `GET /v1/sessions/${sessionId}/events`);
          if ((res.status === 503 || res.status === 429) && ++failures <= this.retries) {
            await sleep(this.delay(failures - 1, e.retryAfterMs), opts.signal);
            continue;
          }
          throw e;
        }
        let ended = false;
        opened = Date.now();
        for await (const ev of readEvents(res.body!)) {
          if (ev.retry !== undefined) retryMs = ev.retry;
          if (ev.event === "session") {
            const session = JSON.parse(ev.data) as Session;
            // Watching from now: a reopened stream resumes after the
            // version the session had when the first one opened.
            if (after === undefined) after = session.version;
            yield { type: "session", session };
          } else if (ev.event === "snapshot") {
            const snap = JSON.parse(ev.data) as Snapshot<S>;
            after = snap.version;
            progressed = true;
            yield { type: "snapshot", snapshot: snap };
          } else if (ev.event === "deleted") {
            const d = JSON.parse(ev.data);
            yield { type: "deleted", sessionId: d.session_id ?? sessionId };
            return;
          } else if (ev.event === "end") {
            ended = true;
            break;
          }
        }
        // The stream ended without `deleted`: the connection dropped or
        // the server is shutting down. Reopen from the last version.
        if (opts.signal?.aborted) throw opts.signal.reason;
        settle();
        if (++failures > this.retries) {
          throw networkError("GET", "events", new Error(ended ? "the server ended the stream" : "the stream closed"));
        }
        // At once the first time (the server said where it stands); then
        // the server's retry: or the backoff, whichever is longer.
        const wait = failures === 1 ? 0 : Math.max(retryMs, this.backoff(failures - 1));
        await sleep(Math.min(wait, this.maxRetryDelayMs), opts.signal);
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (err instanceof CortexError || !(err instanceof TypeError)) throw err;
        // A network failure while reading the stream: reopen.
        settle();
        if (++failures > this.retries) throw networkError("GET", "events", err);
        await sleep(this.backoff(failures - 1), opts.signal);
      } finally {
        opts.signal?.removeEventListener("abort", onAbort);
        ac.abort();
      }
    }
  }

  // ---- plumbing

  private url(path: string, q?: URLSearchParams): string {
    const qs = q?.toString();
    return this.baseUrl + path + (qs ? `?${qs}` : "");
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  /** The exponential backoff before retry n (0-based), with jitter. */
  private backoff(n: number): number {
    const d = Math.min(this.maxRetryDelayMs, this.retryBaseMs * 2 ** n);
    return d / 2 + Math.random() * (d / 2);
  }

  /** The wait before retry n: Retry-After when given, bounded. */
  private delay(n: number, retryAfterMs?: number): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.maxRetryDelayMs);
    return this.backoff(n);
  }

  private async request(method: string, path: string, init: RequestInit2): Promise<Answer> {
    const what = `${method} ${path}`;
    const headers = this.headers({ Accept: "application/json", ...(init.headers ?? {}) });
    let body: string | undefined;
    if (init.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(init.body);
    }
    const url = this.url(path, init.query);
    let netFailed = false;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(init.signal);
      let signal = init.signal;
      if (this.timeoutMs !== undefined && !(init as { noTimeout?: boolean }).noTimeout) {
        const t = AbortSignal.timeout(this.timeoutMs);
        signal = signal ? AbortSignal.any([signal, t]) : t;
      }
      let res: Response;
      try {
        res = await this.fetchFn(url, { method, headers, body, signal });
      } catch (err) {
        if (init.signal?.aborted) throw init.signal.reason;
        const timedOut = err instanceof DOMException && err.name === "TimeoutError";
        if (init.retry === "safe" && attempt < this.retries) {
          netFailed = true;
          await sleep(this.backoff(attempt), init.signal);
          continue;
        }
        throw networkError(method, path, err, timedOut);
      }
      if (res.status < 400 || res.status === 304) {
        const text = res.status === 204 || res.status === 304 ? "" : await res.text();
        return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
      }
      const e = await errorOf(res, what);
      if ((res.status === 503 || res.status === 429) && attempt < this.retries) {
        await sleep(this.delay(attempt, e.retryAfterMs), init.signal);
        continue;
      }
      // A DELETE whose first try was lost on the way back: the session is gone.
      if (method === "DELETE" && netFailed && res.status === 404) {
        return { status: 204, headers: res.headers, body: undefined };
      }
      throw e;
    }
  }
}

/** Adds `metadata.<key>=<JSON value>` parameters: values are sent as JSON literals. */
function addMetadata(q: URLSearchParams, m?: MetadataFilter): void {
  if (!m) return;
  for (const [k, v] of Object.entries(m)) q.append(`metadata.${k}`, JSON.stringify(v));
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function newKey(): string {
  return globalThis.crypto.randomUUID();
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason;
}

/** Waits ms milliseconds, or until signal aborts (then rejects with its reason). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Retry-After in milliseconds: delay-seconds or an HTTP date. */
export function parseRetryAfter(h: string | null): number | undefined {
  if (!h) return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h.trim()) * 1000;
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

async function errorOf(res: Response, what: string): Promise<CortexError> {
  const retryAfterMs = parseRetryAfter(res.headers.get("Retry-After"));
  const text = await res.text().catch(() => "");
  const ct = res.headers.get("Content-Type") ?? "";
  if (ct.includes("json")) {
    try {
      const p = JSON.parse(text) as Problem;
      if (p && typeof p.title === "string") {
        return new CortexError({ ...p, status: p.status || res.status }, what, { retryAfterMs });
      }
    } catch {
      // not JSON after all: below
    }
  }
  return plainError(res.status, res.statusText, text, what, retryAfterMs);
}

function networkError(method: string, path: string, cause: unknown, timedOut = false): CortexError {
  const why = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
  return new CortexError(
    {
      type: timedOut ? "urn:cortex:client:timeout" : "urn:cortex:client:network",
      title: timedOut ? "Timed out" : "Network failure",
      status: 0,
      detail: why,
      hint: "check that the server is running at the client's baseUrl",
    },
    `${method} ${path}`,
    { cause },
  );
}
