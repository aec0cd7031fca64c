"""A reader of text/event-stream (Server-Sent Events), as the HTML standard
describes it: lines end in LF, CR or CRLF; ``event``, ``data``, ``id`` and
``retry`` fields; comment lines start with a colon; an empty line dispatches
the event. A partial event at the end of the stream is dropped (it was cut)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

from ._errors import ProtocolError


@dataclass
class RawEvent:
    """One dispatched event: its type (``message`` when none was given), data
    (the data lines joined by LF), and the last event id seen so far."""

    event: str
    data: str
    id: Optional[str]


class SSEReader:
    """Reads events from ``read``, a function returning the next bytes of the
    stream (at most its argument; b"" at the end).

    ``max_event_bytes`` bounds one line and the data of one event: past it,
    ProtocolError. ``last_id`` is the last ``id:`` received, ``retry_ms`` the
    last ``retry:``.
    """

    def __init__(self, read: Callable[[int], bytes], max_event_bytes: int) -> None:
        self._read = read
        self.max_event_bytes = max_event_bytes
        self.last_id: Optional[str] = None
        self.retry_ms: Optional[int] = None
        self._buf = bytearray()
        self._skip_lf = False  # the last line ended in CR: a LF next belongs to it
        self._eof = False

    def _line(self) -> Optional[str]:
        """The next line without its end, or None at the end of the stream
        (a last line without its end was cut, and is dropped)."""
        start = 0
        while True:
            if self._skip_lf and self._buf:
                if self._buf[0] == 0x0A:  # LF
                    del self._buf[0]
                self._skip_lf = False
            i_n = self._buf.find(b"\n", start)
            i_r = self._buf.find(b"\r", start)
            ends = [i for i in (i_n, i_r) if i >= 0]
            if ends:
                i = min(ends)
                line = bytes(self._buf[:i])
                if i == i_r:
                    if i + 1 < len(self._buf):
                        drop = 2 if self._buf[i + 1] == 0x0A else 1
                    else:
                        drop = 1
                        self._skip_lf = True
                else:
                    drop = 1
                del self._buf[: i + drop]
                return line.decode("utf-8", "replace")
            if len(self._buf) > self.max_event_bytes:
                raise ProtocolError(f"event stream: a line longer than {self.max_event_bytes} bytes")
            if self._eof:
                return None
            start = len(self._buf)
            chunk = self._read(64 << 10)
            if not chunk:
                self._eof = True
                continue
            self._buf += chunk

    def __iter__(self) -> Iterator[RawEvent]:
        event = ""
        data: List[str] = []
        size = 0
        while True:
            line = self._line()
            if line is None:
                return
            if line == "":
                if data:
                    yield RawEvent(event or "message", "\n".join(data), self.last_id)
                event, data, size = "", [], 0
                continue
            if line.startswith(":"):
                continue
            name, sep, value = line.partition(":")
            if sep and value.startswith(" "):
                value = value[1:]
            if name == "event":
                event = value
            elif name == "data":
                size += len(value) + 1
                if size > self.max_event_bytes:
                    raise ProtocolError(f"event stream: an event larger than {self.max_event_bytes} bytes")
                data.append(value)
            elif name == "id":
                if "\0" not in value:
                    self.last_id = value
            elif name == "retry":
                if value.isdigit():
                    self.retry_ms = int(value)
