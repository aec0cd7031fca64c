"""A Python client for cortex's HTTP API (``cortex serve``), standard library
only.

    from cortex_client import Client

    c = Client("http://127.0.0.1:8080", token="…")
    c.put_session("agent-42", metadata={"team": "a"})
    c.append("agent-42", {"step": 1})
    print(c.latest("agent-42").state)

See the package README for the whole surface: typed errors, retries,
paging generators, watching a session.
"""

from ._client import DEFAULT_URL, Client, Watch
from ._errors import (
    ConflictError,
    CortexClientError,
    CortexError,
    IdempotencyKeyReusedError,
    InvalidError,
    NotFoundError,
    PreconditionFailedError,
    ProtocolError,
    ServerError,
    TooLargeError,
    TransportError,
    UnauthorizedError,
    UnavailableError,
)
from ._http import RetryPolicy
from ._models import (
    AppendResult,
    BatchItem,
    Event,
    Health,
    HealthCheck,
    Session,
    SessionPage,
    Snapshot,
    SnapshotPage,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL",
    "AppendResult",
    "BatchItem",
    "Client",
    "ConflictError",
    "CortexClientError",
    "CortexError",
    "Event",
    "Health",
    "HealthCheck",
    "IdempotencyKeyReusedError",
    "InvalidError",
    "NotFoundError",
    "PreconditionFailedError",
    "ProtocolError",
    "RetryPolicy",
    "ServerError",
    "Session",
    "SessionPage",
    "Snapshot",
    "SnapshotPage",
    "TooLargeError",
    "TransportError",
    "UnauthorizedError",
    "UnavailableError",
    "Watch",
]
