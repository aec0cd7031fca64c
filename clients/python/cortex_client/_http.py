"""The transport: persistent connections, retries with backoff, bounded reads.

Only the standard library (http.client). One Transport is safe for concurrent
use: each request takes an idle connection or opens one, and gives it back
when its answer has been read.
"""

from __future__ import annotations

import email.utils
import http.client
import random
import select
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ._errors import CortexError, ProtocolError, TransportError, error_from_answer

#: The errors a connection can fail with (socket.timeout is an OSError).
NETWORK_ERRORS = (OSError, http.client.HTTPException)

Query = Sequence[Tuple[str, str]]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long the client retries.

    A request is tried at most ``attempts`` times (1: never retried). It is
    retried after a 503 or 429 answer (waiting at least the answer's
    ``Retry-After``), after a connection that could not be opened, and after a
    connection lost once the request was sent *only if the request is safe to
    repeat*: reads, PUT, DELETE, touch, and appends (which carry an
    ``Idempotency-Key``, so the server answers a repeat with the first result).
    The wait before retry n is ``base_delay * 2**(n-1)``, jittered, at most
    ``max_delay``, and never less than ``Retry-After``. ``deadline`` bounds one
    call, waits included: a retry that would start past it is not made, and the
    last error is raised.
    """

    attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 5.0
    deadline: float = 60.0

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        """The wait before the retry that follows attempt ``attempt`` (1-based)."""
        d = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        d *= random.uniform(0.5, 1.0)
        if retry_after is not None:
            d = max(d, retry_after)
        return d


#: Called before each retry with (attempt just failed, the error, the wait).
RetryHook = Callable[[int, BaseException, float], None]


def parse_retry_after(v: Optional[str]) -> Optional[float]:
    """Retry-After as seconds: delta-seconds or an HTTP date; None if absent or
    unreadable (negative values count as 0)."""
    if not v:
        return None
    v = v.strip()
    if v.isdigit():
        return float(min(int(v), 24 * 3600))
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, min(when.timestamp() - time.time(), 24 * 3600.0))


@dataclass
class Answer:
    """A read answer: status, headers (lower-case names) and the whole body."""

    status: int
    reason: str
    headers: Dict[str, str]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())


def read_bounded(resp: http.client.HTTPResponse, limit: int) -> Optional[bytes]:
    """The whole body, or None when it is longer than limit bytes. (Not
    resp.read(limit + 1): before Python 3.10 that allocates limit bytes.)"""
    if resp.length is not None:
        if resp.length > limit:
            return None
        return resp.read()
    parts: List[bytes] = []
    total = 0
    while True:
        b = resp.read(64 << 10)
        if not b:
            return b"".join(parts)
        total += len(b)
        if total > limit:
            return None
        parts.append(b)


def _dropped(sock: Optional[socket.socket]) -> bool:
    """True when an idle keep-alive connection was closed by the server (or
    holds unexpected bytes): readable while no request is outstanding."""
    if sock is None:
        return True
    try:
        r, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(r)


class Transport:
    """HTTP to one cortex server. Safe for concurrent use."""

    MAX_IDLE = 8

    def __init__(
        self,
        base_url: str,
        *,
        token: Optional[str],
        timeout: float,
        retry: RetryPolicy,
        max_body_bytes: int,
        ssl_context: Optional[ssl.SSLContext] = None,
        user_agent: str = "cortex-client-python",
        on_retry: Optional[RetryHook] = None,
    ) -> None:
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"base_url {base_url!r}: want http://host:port or https://host:port")
        if u.query or u.fragment:
            raise ValueError(f"base_url {base_url!r}: must not have a query or fragment")
        self.base_url = base_url.rstrip("/")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retry = retry
        self.max_body_bytes = max_body_bytes
        self.ssl_context = ssl_context
        self.user_agent = user_agent
        self.on_retry = on_retry
        self._idle: List[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    # --- connections -----------------------------------------------------

    def new_connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            ctx = self.ssl_context or ssl.create_default_context()
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _take(self, timeout: float) -> Tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if _dropped(conn.sock):
                    conn.close()
                    continue
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                conn.timeout = timeout
                return conn, True
        return self.new_connection(timeout), False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.MAX_IDLE and conn.sock is not None:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close idle connections; later requests open new ones."""
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()

    # --- requests ----------------------------------------------------------

    def url(self, path: str, query: Optional[Query] = None) -> str:
        """The request target: the base URL's path prefix, path, query."""
        target = self.prefix + path
        if query:
            target += "?" + urllib.parse.urlencode(list(query))
        return target

    def headers(self, extra: Optional[Mapping[str, str]] = None, body: bool = False) -> Dict[str, str]:
        h = {"User-Agent": self.user_agent, "Accept": "application/json, application/problem+json"}
        if body:
            h["Content-Type"] = "application/json"
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if extra:
            h.update(extra)
        return h

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Query] = None,
        body: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        resend_safe: bool,
        timeout: Optional[float] = None,
        ok: Sequence[int] = (200,),
    ) -> Answer:
        """Send a request, retrying as the RetryPolicy says, and return an
        answer whose status is in ``ok``; any other status raises its
        CortexError. ``resend_safe`` says whether the request may be sent again
        after a connection lost once it was sent (see RetryPolicy)."""
        target = self.url(path, query)
        hdrs = self.headers(headers, body is not None)
        timeout = self.timeout if timeout is None else timeout
        policy = self.retry
        deadline = time.monotonic() + policy.deadline
        attempt = 0
        lost = False  # an earlier attempt was sent and its answer lost
        while True:
            attempt += 1
            try:
                ans = self._once(method, target, body, hdrs, timeout, resend_safe)
            except _Attempt as a:
                err: BaseException = a.cause
                retry_after: Optional[float] = None
                retryable = a.retryable
                lost = lost or a.sent
            else:
                if ans.status in ok:
                    return ans
                if ans.status < 400:
                    where = ans.header("Location")
                    raise ProtocolError(
                        f"{method} {self.base_url}{target}: unexpected answer {ans.status} {ans.reason}"
                        + (f" (Location: {where[:200]})" if where else "")
                        + f"; want {' or '.join(map(str, ok))}"
                    )
                ra = parse_retry_after(ans.header("Retry-After"))
                cerr = error_from_answer(
                    ans.status, ans.reason, ans.header("Content-Type") or "", ans.body,
                    retry_after=ra, method=method, url=self.base_url + target,
                )
                cerr.attempts = attempt
                cerr.after_lost_answer = lost
                if not cerr.retryable:
                    raise cerr
                err, retry_after, retryable = cerr, ra, True
            wait = policy.delay(attempt, retry_after)
            if not retryable or attempt >= policy.attempts or time.monotonic() + wait > deadline:
                if isinstance(err, CortexError):
                    raise err
                if isinstance(err, ProtocolError):
                    raise err
                raise TransportError(
                    f"{method} {self.base_url}{target}: {type(err).__name__}: {err} (after {attempt} attempt{'s' if attempt > 1 else ''})",
                    attempts=attempt,
                ) from err
            if self.on_retry is not None:
                self.on_retry(attempt, err, wait)
            time.sleep(wait)

    def _once(
        self,
        method: str,
        target: str,
        body: Optional[bytes],
        headers: Mapping[str, str],
        timeout: float,
        resend_safe: bool,
    ) -> Answer:
        conn, _ = self._take(timeout)
        sent = False
        try:
            if conn.sock is None:
                conn.connect()  # a failure here sent nothing: always safe to retry
            sent = True
            conn.request(method, target, body=body, headers=dict(headers))
            resp = conn.getresponse()
            data = read_bounded(resp, self.max_body_bytes)
            if data is None:
                conn.close()
                raise _Attempt(ProtocolError(
                    f"{method} {self.base_url}{target}: answer larger than max_body_bytes ({self.max_body_bytes})"
                ), retryable=False)
            ans = Answer(
                resp.status, resp.reason,
                {k.lower(): v for k, v in resp.getheaders()}, data,
            )
        except _Attempt:
            raise
        except NETWORK_ERRORS as e:
            conn.close()
            raise _Attempt(e, retryable=resend_safe or not sent, sent=sent) from e
        if resp.will_close:
            conn.close()
        else:
            self._give_back(conn)
        return ans

    def open_stream(
        self,
        path: str,
        *,
        query: Optional[Query],
        headers: Optional[Mapping[str, str]],
        timeout: float,
    ) -> Tuple[http.client.HTTPConnection, http.client.HTTPResponse, Optional[socket.socket]]:
        """Open a GET whose body is read as it comes (an event stream) on a
        connection of its own; returns the connection, the response and the
        socket (to shut down from another thread). Raises the CortexError of
        an error answer, or the network error (no retry here: the caller
        reconnects)."""
        target = self.url(path, query)
        hdrs = self.headers(headers)
        hdrs["Accept"] = "text/event-stream, application/problem+json"
        conn = self.new_connection(timeout)
        try:
            conn.request("GET", target, headers=hdrs)
            sock = conn.sock  # kept: getresponse may hand it to the response
            resp = conn.getresponse()
            if resp.status != 200:
                data = read_bounded(resp, 1 << 20) or b""
                raise error_from_answer(
                    resp.status, resp.reason, resp.getheader("Content-Type") or "", data,
                    retry_after=parse_retry_after(resp.getheader("Retry-After")),
                    method="GET", url=self.base_url + target,
                )
        except BaseException:
            conn.close()
            raise
        return conn, resp, sock


class _Attempt(Exception):
    """One failed attempt: the cause and whether a retry is allowed."""

    def __init__(self, cause: BaseException, *, retryable: bool, sent: bool = False) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.retryable = retryable
        self.sent = sent

