"""The client: one method per route of cortex's HTTP API (v1)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
import uuid
from datetime import datetime
from typing import Any, Callable, Dict, Generator, Iterator, List, Mapping, Optional, Sequence, Tuple, Union, cast

from ._errors import CortexError, NotFoundError, ProtocolError, TransportError
from ._http import NETWORK_ERRORS, Answer, Query, RetryHook, RetryPolicy, Transport
from ._models import (
    AppendResult, BatchItem, Event, Health, Session, SessionPage, Snapshot, SnapshotPage, format_time,
)
from ._sse import SSEReader

__all__ = ["Client", "Watch"]

#: The default server address, as `cortex serve` listens by default.
DEFAULT_URL = "http://127.0.0.1:8080"

JSON = Any
Metadata = Mapping[str, Any]


def _seg(s: str) -> str:
    """One path segment, escaped."""
    if not s:
        raise ValueError(f"want a non-empty string id, got {s!r}")
    return urllib.parse.quote(s, safe="")


def _dumps(v: Any) -> bytes:
    """JSON for a request body: compact, UTF-8, no NaN (not JSON)."""
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _loads(ans: Answer, what: str) -> Any:
    try:
        return json.loads(ans.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        start = ans.body[:80].decode("utf-8", "replace")
        raise ProtocolError(f"{what}: the answer is not JSON ({e}): {start!r}") from None


def _filter(metadata: Optional[Metadata]) -> List[Tuple[str, str]]:
    """metadata.<key>=<JSON value> query parameters: a string is sent as a
    JSON string, so "3" matches the string "3" and 3 the number."""
    if not metadata:
        return []
    return [("metadata." + k, json.dumps(v, separators=(",", ":"), allow_nan=False)) for k, v in metadata.items()]


def _ms(seconds: float) -> str:
    return f"{max(0, int(round(seconds * 1000)))}ms"


class Client:
    """A client of one cortex server (``cortex serve``).

    ``base_url`` is the server's address (a path prefix is kept, for a server
    behind a proxy). ``token`` is the bearer token (``--api-token``, or the
    admin token for admin routes); ``token_file`` names a file holding it,
    read again whenever the file changes (a rotated secret). ``timeout`` bounds
    each network wait of one attempt (connect, each read), in seconds; every
    method also takes ``timeout=`` for that call. ``retry`` says when and how
    long to retry (:class:`RetryPolicy`); ``on_retry`` is called before each
    retry with the attempt number, the error and the wait.
    ``max_body_bytes`` bounds an answer the client reads (a history page holds
    up to 16 MiB of states).

    Every method raises :class:`CortexError` (a subclass by status) for an
    error answer, :class:`TransportError` when no answer came, and
    :class:`ProtocolError` for an answer that is not what the API promises.
    A Client is safe to share between threads; ``close()`` closes its idle
    connections (it is also a context manager).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: Optional[str] = None,
        token_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        timeout: float = 30.0,
        retry: Optional[RetryPolicy] = None,
        on_retry: Optional[RetryHook] = None,
        max_body_bytes: int = 256 << 20,
        ssl_context: Optional[ssl.SSLContext] = None,
        user_agent: str = "cortex-client-python/0.1",
    ) -> None:
        if token is not None and token_file is not None:
            raise ValueError("give token or token_file, not both")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        self._token_file = os.fspath(token_file) if token_file is not None else None
        self._token_mtime: Optional[int] = None
        self._token_lock = threading.Lock()
        self._t = Transport(
            base_url, token=token, timeout=timeout, retry=retry or RetryPolicy(),
            max_body_bytes=max_body_bytes, ssl_context=ssl_context, user_agent=user_agent,
            on_retry=on_retry,
        )
        if self._token_file is not None:
            self._refresh_token()

    @classmethod
    def from_env(cls, **kwargs: Any) -> "Client":
        """A client for ``CORTEX_URL`` (default http://127.0.0.1:8080) with the
        token in ``CORTEX_TOKEN``, or in the file named by ``CORTEX_TOKEN_FILE``.
        Keyword arguments are passed on and win over the environment."""
        kwargs.setdefault("base_url", os.environ.get("CORTEX_URL") or DEFAULT_URL)
        if "token" not in kwargs and "token_file" not in kwargs:
            if os.environ.get("CORTEX_TOKEN_FILE"):
                kwargs["token_file"] = os.environ["CORTEX_TOKEN_FILE"]
            elif os.environ.get("CORTEX_TOKEN"):
                kwargs["token"] = os.environ["CORTEX_TOKEN"]
        return cls(**kwargs)

    @property
    def base_url(self) -> str:
        return self._t.base_url

    def close(self) -> None:
        """Close the idle connections. The client stays usable."""
        self._t.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------

    def _refresh_token(self) -> None:
        path = self._token_file
        if path is None:
            return
        try:
            st = os.stat(path)
        except OSError as e:
            raise ValueError(f"token_file {path}: {e.strerror}") from None
        with self._token_lock:
            if st.st_mtime_ns == self._token_mtime:
                return
            with open(path, encoding="utf-8") as f:
                tok = f.read().strip()
            if not tok:
                raise ValueError(f"token_file {path} is empty: write the server's --api-token into it")
            self._t.token = tok
            self._token_mtime = st.st_mtime_ns

    def _do(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Query] = None,
        body: Any = None,
        has_body: bool = False,
        headers: Optional[Mapping[str, str]] = None,
        resend_safe: bool,
        timeout: Optional[float],
        ok: Sequence[int] = (200,),
    ) -> Answer:
        self._refresh_token()
        data = _dumps(body) if has_body else None
        return self._t.request(
            method, path, query=query, body=data, headers=headers,
            resend_safe=resend_safe, timeout=timeout, ok=ok,
        )

    # --- sessions -----------------------------------------------------------

    def create_session(
        self,
        id: Optional[str] = None,
        *,
        metadata: Optional[Metadata] = None,
        ttl_seconds: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Session:
        """Create a session (``POST /v1/sessions``); the server generates the id
        (a UUIDv7) when none is given. An id in use raises ConflictError.
        After a connection lost mid-request it is resent only with an ``id``
        (it cannot create twice then; a ConflictError whose
        ``after_lost_answer`` is True may mean the lost try created it);
        without one, the TransportError comes back. :meth:`put_session`
        creates idempotently."""
        body: Dict[str, Any] = {}
        if id is not None:
            body["id"] = id
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        ans = self._do("POST", "/v1/sessions", body=body, has_body=True, resend_safe=id is not None,
                       timeout=timeout, ok=(201,))
        return Session.from_json(_loads(ans, "create session"))

    def put_session(
        self,
        id: str,
        *,
        metadata: Optional[Metadata] = None,
        ttl_seconds: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Session:
        """Create the session ``id`` or update its metadata/TTL
        (``PUT /v1/sessions/{id}``); None keeps what an existing session has.
        ``ttl_seconds=0`` means it never expires. Touches the session."""
        body: Dict[str, Any] = {}
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        ans = self._do("PUT", "/v1/sessions/" + _seg(id), body=body, has_body=True, resend_safe=True,
                       timeout=timeout, ok=(200, 201))
        return Session.from_json(_loads(ans, "put session"))

    def get_session(self, id: str, *, timeout: Optional[float] = None) -> Session:
        """The session ``id``; NotFoundError if absent, deleted or expired."""
        ans = self._do("GET", "/v1/sessions/" + _seg(id), resend_safe=True, timeout=timeout)
        return Session.from_json(_loads(ans, "get session"))

    def touch_session(self, id: str, *, timeout: Optional[float] = None) -> Session:
        """Mark the session active now (moves its expiry)."""
        ans = self._do("POST", "/v1/sessions/" + _seg(id) + "/touch", resend_safe=True, timeout=timeout)
        return Session.from_json(_loads(ans, "touch session"))

    def delete_session(self, id: str, *, timeout: Optional[float] = None) -> None:
        """Delete the session and its snapshots. NotFoundError if absent —
        except on a retry after a lost answer, where 404 means the lost try
        deleted it."""
        try:
            self._do("DELETE", "/v1/sessions/" + _seg(id), resend_safe=True, timeout=timeout, ok=(204,))
        except NotFoundError as e:
            if not e.after_lost_answer:
                raise

    def list_sessions(
        self,
        *,
        active_since: Optional[Union[datetime, str]] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        metadata: Optional[Metadata] = None,
        timeout: Optional[float] = None,
    ) -> SessionPage:
        """One page of sessions, newest-active first (``GET /v1/sessions``).
        ``metadata`` keeps the sessions whose top-level metadata has each of
        its keys with an equal scalar value. See :meth:`sessions` to iterate
        over every page."""
        q: List[Tuple[str, str]] = []
        if active_since is not None:
            q.append(("active_since", active_since if isinstance(active_since, str) else format_time(active_since)))
        if limit is not None:
            q.append(("limit", str(int(limit))))
        if cursor:
            q.append(("cursor", cursor))
        q += _filter(metadata)
        ans = self._do("GET", "/v1/sessions", query=q, resend_safe=True, timeout=timeout)
        return SessionPage.from_json(_loads(ans, "list sessions"))

    def sessions(
        self,
        *,
        active_since: Optional[Union[datetime, str]] = None,
        metadata: Optional[Metadata] = None,
        page_size: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Iterator[Session]:
        """Every session (matching ``metadata``, active since
        ``active_since``), newest-active first, fetching pages of ``page_size``
        as the iteration goes."""
        cursor: Optional[str] = None
        while True:
            page = self.list_sessions(active_since=active_since, limit=page_size, cursor=cursor,
                                      metadata=metadata, timeout=timeout)
            yield from page.sessions
            if not page.next_cursor:
                return
            if page.next_cursor == cursor:
                raise ProtocolError("list sessions: the server answered the same cursor twice")
            cursor = page.next_cursor

    def search_sessions(
        self,
        metadata: Metadata,
        *,
        active_since: Optional[Union[datetime, str]] = None,
        page_size: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Iterator[Session]:
        """The sessions whose metadata matches (exact match of top-level
        scalar values, all keys), newest-active first, paging as it goes.
        Index-backed on the server."""
        if not metadata:
            raise ValueError("search_sessions needs at least one metadata key")
        return self.sessions(active_since=active_since, metadata=metadata, page_size=page_size, timeout=timeout)

    def fork(
        self,
        id: str,
        *,
        new_id: Optional[str] = None,
        at_version: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Session:
        """A new session with a copy of ``id``'s history up to ``at_version``
        (None: the latest). Resent after a connection lost mid-request only
        with a ``new_id`` (as :meth:`create_session`)."""
        body: Dict[str, Any] = {}
        if new_id is not None:
            body["new_id"] = new_id
        if at_version is not None:
            body["at_version"] = at_version
        ans = self._do("POST", "/v1/sessions/" + _seg(id) + "/fork", body=body, has_body=True,
                       resend_safe=new_id is not None, timeout=timeout, ok=(201,))
        return Session.from_json(_loads(ans, "fork"))

    # --- snapshots ----------------------------------------------------------

    def append(
        self,
        session_id: str,
        state: JSON,
        *,
        metadata: Optional[Metadata] = None,
        key: Optional[str] = None,
        expected_version: Optional[int] = None,
        idempotency_key: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> AppendResult:
        """Append a snapshot of ``state`` (any JSON value) to an existing
        session. ``expected_version`` makes it conditional (0: no snapshot
        yet): PreconditionFailedError when the latest differs. ``key`` names
        the snapshot (unique in the session). Every append carries an
        ``Idempotency-Key`` (``idempotency_key``, or a random one), so that the
        client's retries after a lost answer append once: the result then has
        ``replayed=True``."""
        body: Dict[str, Any] = {"state": state}
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if key is not None:
            body["key"] = key
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        if expected_version is not None:
            headers["If-Match"] = f'"{int(expected_version)}"'
        ans = self._do("POST", "/v1/sessions/" + _seg(session_id) + "/snapshots", body=body, has_body=True,
                       headers=headers, resend_safe=True, timeout=timeout, ok=(201,))
        return AppendResult.from_json(_loads(ans, "append"), replayed=ans.header("Idempotent-Replayed") == "true")

    def append_batch(self, items: Sequence[BatchItem], *, timeout: Optional[float] = None) -> List[AppendResult]:
        """Append several snapshots, all or nothing (up to 1,000 items, to one
        or several sessions); results are in the order of ``items``. Items
        without an ``idempotency_key`` get a random one, so that a retried batch
        appends once."""
        out: List[Dict[str, Any]] = []
        for it in items:
            d: Dict[str, Any] = {"session_id": it.session_id, "state": it.state}
            if it.metadata is not None:
                d["metadata"] = dict(it.metadata)
            if it.expected_version is not None:
                d["expected_version"] = it.expected_version
            d["idempotency_key"] = it.idempotency_key or uuid.uuid4().hex
            if it.key is not None:
                d["key"] = it.key
            out.append(d)
        ans = self._do("POST", "/v1/snapshots:batch", body={"items": out}, has_body=True,
                       resend_safe=True, timeout=timeout, ok=(201,))
        doc = _loads(ans, "append batch")
        results: Any = cast(Dict[str, Any], doc).get("results") if isinstance(doc, dict) else None
        if not isinstance(results, list):
            raise ProtocolError("append batch: want {\"results\": [...]}")
        return [AppendResult.from_json(r) for r in cast(List[Any], results)]

    def latest(self, session_id: str, *, timeout: Optional[float] = None) -> Snapshot:
        """The latest snapshot, with its state; NotFoundError when the session
        is absent or has no snapshot yet."""
        ans = self._do("GET", "/v1/sessions/" + _seg(session_id) + "/snapshots/latest", resend_safe=True,
                       timeout=timeout)
        return Snapshot.from_json(_loads(ans, "latest snapshot"))

    def snapshot(self, session_id: str, version: int, *, timeout: Optional[float] = None) -> Snapshot:
        """The snapshot ``version`` of the session, with its state."""
        ans = self._do("GET", f"/v1/sessions/{_seg(session_id)}/snapshots/{int(version)}", resend_safe=True,
                       timeout=timeout)
        return Snapshot.from_json(_loads(ans, "get snapshot"))

    def snapshot_by_key(self, session_id: str, key: str, *, timeout: Optional[float] = None) -> Snapshot:
        """The snapshot appended with ``key``, with its state."""
        ans = self._do("GET", f"/v1/sessions/{_seg(session_id)}/snapshots/by-key/{_seg(key)}", resend_safe=True,
                       timeout=timeout)
        return Snapshot.from_json(_loads(ans, "snapshot by key"))

    def wait_for(
        self,
        session_id: str,
        *,
        after_version: int = 0,
        wait: float = 30.0,
        timeout: Optional[float] = None,
    ) -> Optional[Snapshot]:
        """Long poll: the latest snapshot as soon as its version is above
        ``after_version`` (at once if it already is), or None when ``wait``
        seconds (at most 60) pass first. ``timeout`` (default: the client's)
        is added to ``wait`` for the socket's read."""
        if not 0 <= wait <= 60:
            raise ValueError(f"wait must be 0 to 60 seconds, got {wait!r}")
        q = [("wait", _ms(wait)), ("after_version", str(int(after_version)))]
        t = (self._t.timeout if timeout is None else timeout) + wait
        ans = self._do("GET", "/v1/sessions/" + _seg(session_id) + "/snapshots/latest", query=q,
                       resend_safe=True, timeout=t, ok=(200, 304))
        if ans.status == 304:
            return None
        return Snapshot.from_json(_loads(ans, "long poll"))

    def history_page(
        self,
        session_id: str,
        *,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        before: Optional[int] = None,
        include_state: bool = False,
        metadata: Optional[Metadata] = None,
        timeout: Optional[float] = None,
    ) -> SnapshotPage:
        """One page of the session's history, newest first. ``before`` keeps
        versions below it; ``metadata`` keeps snapshots whose metadata matches;
        ``include_state`` adds the states. See :meth:`history` to iterate."""
        q: List[Tuple[str, str]] = []
        if limit is not None:
            q.append(("limit", str(int(limit))))
        if cursor:
            q.append(("cursor", cursor))
        if before is not None:
            q.append(("before", str(int(before))))
        if include_state:
            q.append(("include_state", "true"))
        q += _filter(metadata)
        ans = self._do("GET", "/v1/sessions/" + _seg(session_id) + "/snapshots", query=q, resend_safe=True,
                       timeout=timeout)
        return SnapshotPage.from_json(_loads(ans, "history"))

    def history(
        self,
        session_id: str,
        *,
        before: Optional[int] = None,
        include_state: bool = False,
        metadata: Optional[Metadata] = None,
        page_size: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Iterator[Snapshot]:
        """Every snapshot of the session (below ``before``, matching
        ``metadata``), newest first, fetching pages as the iteration goes."""
        cursor: Optional[str] = None
        while True:
            page = self.history_page(session_id, limit=page_size, cursor=cursor, before=before,
                                     include_state=include_state, metadata=metadata, timeout=timeout)
            yield from page.snapshots
            if not page.next_cursor:
                return
            if page.next_cursor == cursor:
                raise ProtocolError("history: the server answered the same cursor twice")
            cursor = page.next_cursor

    def watch(
        self,
        session_id: str,
        *,
        after_version: int = 0,
        include_state: bool = False,
        stream_timeout: float = 45.0,
        max_event_bytes: int = 64 << 20,
    ) -> "Watch":
        """Watch the session through its event stream
        (``GET /v1/sessions/{id}/events``): iterate the returned :class:`Watch`
        for :class:`Event` s — the session first, then each snapshot after
        ``after_version`` in version order, as it commits. The watch reconnects
        by itself (a lost connection, a server restart, ``stream_timeout``
        seconds without even a heartbeat) and resumes after the last version it
        gave, so nothing is lost or given twice. It ends after a ``deleted``
        event, on ``close()``, or raises when reconnecting fails ``retry.attempts``
        times in a row."""
        return Watch(self._t, self._refresh_token, session_id, after_version=after_version,
                     include_state=include_state, stream_timeout=stream_timeout, max_event_bytes=max_event_bytes)

    # --- health and admin -----------------------------------------------------

    def healthz(self, *, timeout: Optional[float] = None) -> bool:
        """True when the server process answers ``/healthz``."""
        try:
            self._do("GET", "/healthz", resend_safe=True, timeout=timeout)
        except (CortexError, TransportError):
            return False
        return True

    def ready(self, *, timeout: Optional[float] = None) -> Health:
        """The server's health (``/readyz``, open without a token): an
        unhealthy server's report is returned, not raised (``health.ok`` is
        False)."""
        ans = self._do("GET", "/readyz", resend_safe=True, timeout=timeout, ok=(200, 503))
        return Health.from_json(_loads(ans, "readyz"))

    def admin_health(self, *, timeout: Optional[float] = None) -> Health:
        """``/v1/admin/health`` (admin token): health with the last integrity
        check and running jobs in ``raw``. An unhealthy report is returned."""
        ans = self._do("GET", "/v1/admin/health", resend_safe=True, timeout=timeout, ok=(200, 503))
        return Health.from_json(_loads(ans, "admin health"))

    def stats(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``/v1/admin/stats`` (admin token): the storage engine's figures."""
        ans = self._do("GET", "/v1/admin/stats", resend_safe=True, timeout=timeout)
        doc = _loads(ans, "stats")
        if not isinstance(doc, dict):
            raise ProtocolError("stats: want a JSON object")
        return cast(Dict[str, Any], doc)


class Watch(Iterator[Event]):
    """An open watch of one session: an iterator of :class:`Event` that
    reconnects by itself. ``last_version`` is the version of the last snapshot
    event given. ``close()`` ends it, also from another thread (a blocked
    ``next()`` then raises StopIteration). A context manager."""

    def __init__(
        self,
        transport: Transport,
        refresh_token: Callable[[], None],
        session_id: str,
        *,
        after_version: int,
        include_state: bool,
        stream_timeout: float,
        max_event_bytes: int,
    ) -> None:
        self._t = transport
        self._refresh_token = refresh_token
        self.session_id = session_id
        self.last_version = int(after_version)
        self.include_state = include_state
        self.stream_timeout = stream_timeout
        self.max_event_bytes = max_event_bytes
        #: Connections opened so far (1 + reconnects).
        self.connections = 0
        self._closed = False
        self._stop = threading.Event()  # set by close(): ends a wait to reconnect
        self._sock: Optional[socket.socket] = None
        self._lock = threading.Lock()
        self._gen = self._run()

    def __iter__(self) -> "Watch":
        return self

    def __next__(self) -> Event:
        return next(self._gen)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """End the watch and its connection."""
        with self._lock:
            self._closed = True
            sock = self._sock
        self._stop.set()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self._gen.close()  # a suspended watch: closes its connection now
        except ValueError:
            pass  # running in another thread: it sees the shut socket and ends

    def _run(self) -> Generator[Event, None, None]:
        t = self._t
        policy = t.retry
        path = "/v1/sessions/" + _seg(self.session_id) + "/events"
        query = [("include_state", "true")] if self.include_state else []
        failures = 0
        last_err: Optional[BaseException] = None
        server_retry: Optional[float] = None
        while True:
            if self._closed:
                return
            if failures:
                if failures >= policy.attempts:
                    if isinstance(last_err, CortexError):
                        raise last_err
                    raise TransportError(
                        f"watch {self.session_id}: {failures} connections in a row failed: {last_err}",
                        attempts=failures,
                    ) from last_err
                ra = last_err.retry_after if isinstance(last_err, CortexError) else None
                wait = policy.delay(failures, ra)
                if server_retry is not None:
                    wait = max(wait, min(server_retry, policy.max_delay))
                if t.on_retry is not None and last_err is not None:
                    t.on_retry(failures, last_err, wait)
                if self._stop.wait(wait):
                    return  # closed while waiting
            self._refresh_token()
            try:
                conn, resp, sock = t.open_stream(
                    path, query=query, headers={"Last-Event-ID": str(self.last_version)},
                    timeout=self.stream_timeout,
                )
            except NotFoundError:
                if self.connections == 0:
                    raise
                # Deleted while we were away: what the stream would have said.
                yield Event("deleted", self.session_id)
                return
            except CortexError as e:
                if not e.retryable:
                    raise
                failures, last_err = failures + 1, e
                continue
            except NETWORK_ERRORS as e:
                failures, last_err = failures + 1, e
                continue
            self.connections += 1
            with self._lock:
                self._sock = sock
                closed = self._closed
            if closed:
                resp.close()
                conn.close()
                return
            reader = SSEReader(resp.read1, self.max_event_bytes)
            opened = time.monotonic()
            progressed = False
            try:
                for raw in reader:
                    ev = self._event(raw.event, raw.data)
                    if ev is None:
                        continue
                    if ev.kind == "end":
                        break
                    if ev.kind == "snapshot":
                        assert ev.snapshot is not None
                        if ev.snapshot.version <= self.last_version:
                            continue  # already given (defensive: the server sends none twice)
                        self.last_version = ev.snapshot.version
                        progressed = True
                    yield ev
                    if ev.kind == "deleted":
                        return
                last_err = TransportError(f"watch {self.session_id}: the stream ended")
            except NETWORK_ERRORS as e:
                last_err = e
            finally:
                with self._lock:
                    self._sock = None
                resp.close()
                conn.close()
            if self._closed:
                return
            if reader.retry_ms is not None:
                server_retry = reader.retry_ms / 1000
            if progressed or time.monotonic() - opened > 30:
                failures = 0
            failures += 1

    def _event(self, kind: str, data: str) -> Optional[Event]:
        if kind not in ("session", "snapshot", "deleted", "end"):
            return None  # a kind this client does not know: skipped
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise ProtocolError(f"watch {self.session_id}: {kind} event data is not JSON: {e}") from None
        if kind == "session":
            return Event("session", self.session_id, session=Session.from_json(doc))
        if kind == "snapshot":
            return Event("snapshot", self.session_id, snapshot=Snapshot.from_json(doc))
        if kind == "deleted":
            return Event("deleted", self.session_id)
        return Event("end", self.session_id)
