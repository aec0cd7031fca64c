"""The API's data, as dataclasses parsed from the server's JSON.

Parsing is lenient about what it does not know (members added by a newer server
are ignored; the raw object is kept in ``raw``) and strict about what it needs:
a missing or mistyped required member raises :class:`ProtocolError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, cast

from ._errors import ProtocolError

T = TypeVar("T")

_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def parse_time(v: Any, what: str = "time") -> datetime:
    """Parse an RFC 3339 time (nanoseconds are cut to microseconds) into an
    aware datetime."""
    if not isinstance(v, str):
        raise ProtocolError(f"{what}: want an RFC 3339 time, got {v!r:.80}")
    m = _TIME.match(v)
    if m is None:
        raise ProtocolError(f"{what}: want an RFC 3339 time, got {v!r:.80}")
    frac = (m.group(7) or "")[:6].ljust(6, "0")
    if m.group(8):
        tz = timezone.utc
    else:
        off = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        tz = timezone(-off if m.group(9) == "-" else off)
    try:
        return datetime(
            int(m.group(1)), int(m.group(2)), int(m.group(3)),
            int(m.group(4)), int(m.group(5)), int(m.group(6)), int(frac), tzinfo=tz,
        )
    except ValueError as e:
        raise ProtocolError(f"{what}: {v!r:.80}: {e}") from None


def format_time(t: datetime) -> str:
    """Format a datetime as RFC 3339 in UTC (a naive datetime is taken as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _obj(v: Any, what: str) -> Dict[str, Any]:
    if not isinstance(v, dict):
        raise ProtocolError(f"{what}: want a JSON object, got {type(v).__name__}")
    return cast(Dict[str, Any], v)


def _str(d: Dict[str, Any], k: str, what: str) -> str:
    v = d.get(k)
    if not isinstance(v, str):
        raise ProtocolError(f"{what}.{k}: want a string, got {v!r:.80}")
    return v


def _int(d: Dict[str, Any], k: str, what: str, default: Optional[int] = None) -> int:
    v = d.get(k, default)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ProtocolError(f"{what}.{k}: want an integer, got {v!r:.80}")
    return v


def _metadata(d: Dict[str, Any], what: str) -> Dict[str, Any]:
    v = d.get("metadata")
    if v is None:
        return {}
    return _obj(v, what + ".metadata")


def _list(d: Dict[str, Any], k: str, what: str) -> List[Any]:
    v = d.get(k)
    if v is None:
        return []
    if not isinstance(v, list):
        raise ProtocolError(f"{what}.{k}: want a JSON array, got {type(v).__name__}")
    return cast(List[Any], v)


def _opt_str(d: Dict[str, Any], k: str) -> Optional[str]:
    """d[k] when it is a non-empty string, else None (an optional field)."""
    v = d.get(k)
    return v if isinstance(v, str) and v else None


def _page(v: Any, what: str, k: str, item: Callable[[Any], T]) -> Tuple[List[T], Optional[str]]:
    """The items of a page (the list at k, each read by item) and its
    next_cursor."""
    d = _obj(v, what)
    return [item(x) for x in _list(d, k, what)], _opt_str(d, "next_cursor")


@dataclass
class Session:
    """A session: identity, activity and the summary of its history.

    ``version`` is the latest snapshot's version (0: none yet);
    ``snapshot_count`` the snapshots kept; ``ttl_seconds`` the idle expiry (0:
    never) and ``expires_at`` when it expires unless touched.
    """

    id: str
    created_at: datetime
    last_active: datetime
    metadata: Dict[str, Any]
    version: int
    snapshot_count: int
    ttl_seconds: int = 0
    expires_at: Optional[datetime] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, v: Any) -> "Session":
        d = _obj(v, "session")
        exp = d.get("expires_at")
        return cls(
            id=_str(d, "id", "session"),
            created_at=parse_time(d.get("created_at"), "session.created_at"),
            last_active=parse_time(d.get("last_active"), "session.last_active"),
            metadata=_metadata(d, "session"),
            version=_int(d, "version", "session", 0),
            snapshot_count=_int(d, "snapshot_count", "session", 0),
            ttl_seconds=_int(d, "ttl_seconds", "session", 0),
            expires_at=None if exp is None else parse_time(exp, "session.expires_at"),
            raw=d,
        )


@dataclass
class Snapshot:
    """One version of a session's state.

    ``state`` is the decoded JSON value; ``has_state`` is False when the
    snapshot was read without its state (a history page or event without
    ``include_state``), so that a ``null`` state and no state differ. ``key``
    is the snapshot's client-chosen name, or None.
    """

    session_id: str
    version: int
    created_at: datetime
    metadata: Dict[str, Any]
    size_bytes: int
    state: Any = None
    has_state: bool = False
    key: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, v: Any) -> "Snapshot":
        d = _obj(v, "snapshot")
        return cls(
            session_id=_str(d, "session_id", "snapshot"),
            version=_int(d, "version", "snapshot"),
            created_at=parse_time(d.get("created_at"), "snapshot.created_at"),
            metadata=_metadata(d, "snapshot"),
            size_bytes=_int(d, "size_bytes", "snapshot", 0),
            state=d.get("state"),
            has_state="state" in d,
            key=_opt_str(d, "key"),
            raw=d,
        )


@dataclass
class AppendResult:
    """The answer to an append: the new snapshot's version and size.

    ``replayed`` is True when the server answered an earlier identical append
    (same idempotency key, or same snapshot key and content) instead of
    appending again — for example after a retry of a request whose first answer
    was lost.
    """

    session_id: str
    version: int
    created_at: datetime
    size_bytes: int
    key: Optional[str] = None
    replayed: bool = False

    @classmethod
    def from_json(cls, v: Any, replayed: bool = False) -> "AppendResult":
        d = _obj(v, "append result")
        return cls(
            session_id=_str(d, "session_id", "append result"),
            version=_int(d, "version", "append result"),
            created_at=parse_time(d.get("created_at"), "append result.created_at"),
            size_bytes=_int(d, "size_bytes", "append result", 0),
            key=_opt_str(d, "key"),
            replayed=replayed,
        )


@dataclass
class SessionPage:
    """One page of sessions, newest-active first; ``next_cursor`` is None on
    the last page."""

    sessions: List[Session]
    next_cursor: Optional[str] = None

    @classmethod
    def from_json(cls, v: Any) -> "SessionPage":
        sessions, cursor = _page(v, "session page", "sessions", Session.from_json)
        return cls(sessions=sessions, next_cursor=cursor)


@dataclass
class SnapshotPage:
    """One page of a session's history, newest first; ``next_cursor`` is None
    on the last page. A page may hold fewer snapshots than asked for (the
    server bounds a page's bytes): follow the cursor."""

    snapshots: List[Snapshot]
    next_cursor: Optional[str] = None

    @classmethod
    def from_json(cls, v: Any) -> "SnapshotPage":
        snapshots, cursor = _page(v, "snapshot page", "snapshots", Snapshot.from_json)
        return cls(snapshots=snapshots, next_cursor=cursor)


@dataclass
class BatchItem:
    """One append of :meth:`Client.append_batch`.

    ``expected_version`` makes the item conditional (0: the session has no
    snapshot yet); ``idempotency_key`` is generated when None, so that a retried
    batch is answered, not appended twice; ``key`` names the snapshot.
    """

    session_id: str
    state: Any
    metadata: Optional[Dict[str, Any]] = None
    expected_version: Optional[int] = None
    idempotency_key: Optional[str] = None
    key: Optional[str] = None


@dataclass
class HealthCheck:
    """One named check of a health report."""

    name: str
    status: str
    detail: str = ""


@dataclass
class Health:
    """A health report: ``status`` is ``healthy``, ``degraded`` or
    ``unhealthy``; ``checks`` the checks behind it. Engine-specific figures
    (SQLite's last integrity check, PostgreSQL's pool) are in ``raw``."""

    status: str
    checks: List[HealthCheck]
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when healthy or degraded (what /readyz answers 200 for)."""
        return self.status in ("healthy", "degraded")

    @classmethod
    def from_json(cls, v: Any) -> "Health":
        d = _obj(v, "health")
        checks: List[HealthCheck] = []
        for item in _list(d, "checks", "health"):
            c = _obj(item, "health.checks[]")
            detail = c.get("detail")
            checks.append(HealthCheck(
                name=_str(c, "name", "health.checks[]"),
                status=_str(c, "status", "health.checks[]"),
                detail=detail if isinstance(detail, str) else "",
            ))
        return cls(status=_str(d, "status", "health"), checks=checks, raw=d)


@dataclass
class Event:
    """One event of a watch (:meth:`Client.watch`).

    ``kind`` is ``"session"`` (``session`` set: first, then on every metadata
    or TTL change), ``"snapshot"`` (``snapshot`` set, without state unless the
    watch asked for it) or ``"deleted"`` (the session is gone; the watch ends
    after it). ``session_id`` is always set.
    """

    kind: str
    session_id: str
    session: Optional[Session] = None
    snapshot: Optional[Snapshot] = None
