/**
 * The problem+json document every cortex error answer carries
 * (RFC 9457; `httpapi/problem.go`).
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  /** The offending input of a 400, when known. */
  field?: string;
  /** The versions of a version conflict (409/412). */
  expected_version?: number;
  actual_version?: number;
  /** What to do about it, when the server knows. */
  hint?: string;
}

const problemPrefix = "urn:cortex:problem:";

/**
 * An error answer of the server (any status >= 400), or a failure to reach
 * it after the retries (`status` 0). Test the kind with `status` or `slug`:
 *
 * ```ts
 * try { await c.append("s1", state, { ifMatch: 3 }); }
 * catch (e) { if (e instanceof CortexError && e.status === 412) … }
 * ```
 */
export class CortexError extends Error {
  /** The HTTP status; 0 when no answer came (network failure). */
  readonly status: number;
  /** The problem type URI, e.g. `urn:cortex:problem:not-found`. */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly hint: string;
  readonly field?: string;
  readonly expectedVersion?: number;
  readonly actualVersion?: number;
  /** Retry-After of the answer, in milliseconds, when it had one. */
  readonly retryAfterMs?: number;
  /** The request that failed, e.g. `POST /v1/sessions/s1/snapshots`. */
  readonly request: string;

  constructor(
    p: Problem,
    request: string,
    opts?: { retryAfterMs?: number; cause?: unknown },
  ) {
    const msg = p.detail ? `${p.title}: ${p.detail}` : p.title;
    super(
      `cortex: ${request}: ${p.status || "no answer"} ${msg}${p.hint ? ` (hint: ${p.hint})` : ""}`,
      opts?.cause === undefined ? undefined : { cause: opts.cause },
    );
    this.name = "CortexError";
    this.status = p.status;
    this.type = p.type;
    this.title = p.title;
    this.detail = p.detail ?? "";
    this.hint = p.hint ?? "";
    this.field = p.field;
    this.expectedVersion = p.expected_version;
    this.actualVersion = p.actual_version;
    this.retryAfterMs = opts?.retryAfterMs;
    this.request = request;
  }

  /** The last part of the type URI: `not-found`, `version-conflict`, … */
  get slug(): string {
    return this.type.startsWith(problemPrefix)
      ? this.type.slice(problemPrefix.length)
      : this.type;
  }

  /** 404: no such session (also deleted or expired), version, key or job. */
  get isNotFound(): boolean {
    return this.status === 404;
  }

  /** 409 `version-conflict` or 412: the expected version was not the latest. */
  get isVersionConflict(): boolean {
    return this.status === 412 || this.slug === "version-conflict";
  }
}

/** Builds a CortexError from an answer that is not problem+json. */
export function plainError(
  status: number,
  statusText: string,
  body: string,
  request: string,
  retryAfterMs?: number,
): CortexError {
  return new CortexError(
    {
      type: "about:blank",
      title: statusText || `HTTP ${status}`,
      status,
      detail: body.slice(0, 500),
    },
    request,
    { retryAfterMs },
  );
}
