"""The errors this package raises.

Everything derives from :class:`CortexClientError`:

- :class:`CortexError` — the server answered with an error status. Its fields
  come from the problem+json body (RFC 9457) the server sends; subclasses name
  the usual cases (:class:`NotFoundError`, :class:`ConflictError`,
  :class:`PreconditionFailedError`, ...), chosen by status.
- :class:`TransportError` — no answer: the connection failed, timed out or was
  cut, and the client's retries (if the request could be retried) ran out.
- :class:`ProtocolError` — an answer that is not what the API promises (a
  success whose body is not the JSON expected, an event stream line past its
  bound).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Type

PROBLEM_PREFIX = "urn:cortex:problem:"


class CortexClientError(Exception):
    """Base class of every error this package raises."""


class TransportError(CortexClientError):
    """The request got no answer: connect, send or receive failed or timed out.

    ``attempts`` is how many times the request was sent (or tried to be);
    ``__cause__`` holds the last underlying error (an ``OSError``,
    ``http.client.HTTPException`` or ``socket.timeout``).
    """

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class ProtocolError(CortexClientError):
    """The server's answer is not what the API promises (not JSON, wrong shape,
    a line or body past the client's bound)."""


class CortexError(CortexClientError):
    """An error answer from cortex: an HTTP status with a problem+json body.

    Attributes mirror the problem document: ``status``, ``type`` (a URI such as
    ``urn:cortex:problem:not-found``), ``title``, ``detail``, ``hint`` (what to
    do, when the server knows), ``field`` (the input at fault on a 400),
    ``expected_version``/``actual_version`` (a version conflict). ``slug`` is the
    last part of ``type`` (``"not-found"``). ``retry_after`` is the
    ``Retry-After`` header in seconds, when given. ``body`` is the raw problem
    object (all its members, also ones this client does not know). An answer
    whose body is not problem+json (a proxy's HTML page) still becomes a
    CortexError: type ``about:blank``, title the HTTP reason, detail the start of
    the body.
    """

    def __init__(
        self,
        status: int,
        type: str = "about:blank",
        title: str = "",
        detail: str = "",
        *,
        hint: str = "",
        field: str = "",
        expected_version: Optional[int] = None,
        actual_version: Optional[int] = None,
        retry_after: Optional[float] = None,
        body: Optional[Dict[str, Any]] = None,
        method: str = "",
        url: str = "",
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.hint = hint
        self.field = field
        self.expected_version = expected_version
        self.actual_version = actual_version
        self.retry_after = retry_after
        self.body: Dict[str, Any] = body if body is not None else {}
        self.method = method
        self.url = url
        #: How many times the request was sent before this answer (set by the
        #: client; more than 1 after retries).
        self.attempts = 1
        #: True when an earlier attempt of the request was sent and its answer
        #: lost: the server may have acted on it (a retried DELETE's 404).
        self.after_lost_answer = False
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.method} {self.url}: " if self.method else ""
        text = f"{where}{self.status} {self.title or 'error'}"
        if self.detail:
            text += f": {self.detail}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    @property
    def slug(self) -> str:
        """The problem type without its ``urn:cortex:problem:`` prefix."""
        if self.type.startswith(PROBLEM_PREFIX):
            return self.type[len(PROBLEM_PREFIX):]
        return self.type

    @property
    def is_version_conflict(self) -> bool:
        """True for a version conflict: 412 after ``expected_version`` on an
        append (``If-Match``), or 409 from a batch item's expected_version."""
        return self.slug == "version-conflict"

    @property
    def retryable(self) -> bool:
        """True for the answers a retry may cure (503, 429)."""
        return self.status in (429, 503)


class InvalidError(CortexError):
    """400: bad input (``field`` names it). Nothing was changed."""


class UnauthorizedError(CortexError):
    """401 (token missing or wrong) or 403 (token not allowed here)."""


class NotFoundError(CortexError):
    """404: no such session (also deleted or expired), version, key or job."""


class ConflictError(CortexError):
    """409: an id or snapshot key taken, a batch version conflict, a job running."""


class PreconditionFailedError(ConflictError):
    """412: the append's ``expected_version`` (``If-Match``) is not the latest.

    ``expected_version`` and ``actual_version`` say which versions. A
    ConflictError too, so that ``except ConflictError`` catches every conflict
    (as the Go client's IsConflict does).
    """


class TooLargeError(CortexError):
    """413: a state, metadata or body over the server's bound."""


class IdempotencyKeyReusedError(CortexError):
    """422: an idempotency key already used for a different request."""


class UnavailableError(CortexError):
    """503 or 429 after the client's retries ran out: storage busy, a request
    past its time, too many watchers, the server shutting down, rate limited."""


class ServerError(CortexError):
    """Any other 5xx (500 a bug, 501 unsupported, 507 storage full)."""


_BY_STATUS: Dict[int, Type[CortexError]] = {
    400: InvalidError,
    401: UnauthorizedError,
    403: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    413: TooLargeError,
    422: IdempotencyKeyReusedError,
    429: UnavailableError,
    503: UnavailableError,
}

_MAX_DETAIL = 500


def _opt_int(v: Any) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _opt_str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def error_from_answer(
    status: int,
    reason: str,
    content_type: str,
    body: bytes,
    *,
    retry_after: Optional[float] = None,
    method: str = "",
    url: str = "",
) -> CortexError:
    """Build the CortexError for an error answer. Never raises: a body that is
    not a problem document (not JSON, not an object, wrong member types) gives
    an ``about:blank`` error carrying the start of the body as its detail."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else CortexError
    doc: Optional[Dict[str, Any]] = None
    if "json" in content_type.lower():
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            parsed = None
        if isinstance(parsed, dict):
            doc = parsed
    if doc is None:
        text = body[:_MAX_DETAIL].decode("utf-8", "replace").strip()
        if len(body) > _MAX_DETAIL:
            text += "…"
        return cls(status, "about:blank", reason, text, retry_after=retry_after, method=method, url=url)
    return cls(
        status,
        _opt_str(doc.get("type")) or "about:blank",
        _opt_str(doc.get("title")) or reason,
        _opt_str(doc.get("detail")),
        hint=_opt_str(doc.get("hint")),
        field=_opt_str(doc.get("field")),
        expected_version=_opt_int(doc.get("expected_version")),
        actual_version=_opt_int(doc.get("actual_version")),
        retry_after=retry_after,
        body=doc,
        method=method,
        url=url,
    )
