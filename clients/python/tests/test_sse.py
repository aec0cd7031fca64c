"""The event-stream parser, on the byte sequences the standard allows."""

from __future__ import annotations

import unittest
from typing import List

from cortex_client import ProtocolError
from cortex_client._sse import RawEvent, SSEReader


def reader(data: bytes, chunk: int = 7, limit: int = 1 << 20) -> SSEReader:
    pos = [0]

    def read(n: int) -> bytes:
        b = data[pos[0]:pos[0] + min(n, chunk)]
        pos[0] += len(b)
        return b

    return SSEReader(read, limit)


def events(data: bytes, chunk: int = 7) -> List[RawEvent]:
    return list(reader(data, chunk))


class SSETest(unittest.TestCase):
    def test_line_ends_and_chunkings(self) -> None:
        for nl in (b"\n", b"\r\n", b"\r"):
            data = nl.join([b"retry: 2000", b"", b"id: 4", b"event: snapshot", b"data: {\"a\":", b"data: 1}", b"", b""])
            for chunk in (1, 2, 3, 7, 1000):
                r = reader(data, chunk)
                got = list(r)
                self.assertEqual(got, [RawEvent("snapshot", '{"a":\n1}', "4")], (nl, chunk))
                self.assertEqual(r.retry_ms, 2000)
                self.assertEqual(r.last_id, "4")

    def test_comments_default_type_and_no_space(self) -> None:
        got = events(b": heartbeat\n\ndata:x\n\nevent:e\ndata:  two spaces\n\n")
        self.assertEqual(got, [RawEvent("message", "x", None), RawEvent("e", " two spaces", None)])

    def test_an_event_without_data_is_not_dispatched(self) -> None:
        self.assertEqual(events(b"event: session\n\nid: 3\n\n"), [])

    def test_a_cut_event_is_dropped(self) -> None:
        self.assertEqual(events(b"data: whole\n\ndata: cut"), [RawEvent("message", "whole", None)])
        self.assertEqual(events(b"data: whole\n\ndata: cut\n"), [RawEvent("message", "whole", None)])

    def test_bounds(self) -> None:
        with self.assertRaises(ProtocolError):
            list(reader(b"data: " + b"x" * 100, 10, 50))  # a line past the bound, no end
        with self.assertRaises(ProtocolError):
            list(reader(b"data: " + b"x" * 40 + b"\ndata: " + b"y" * 40 + b"\n\n", 10, 50))

    def test_id_with_nul_is_ignored(self) -> None:
        r = reader(b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n")
        self.assertEqual([e.id for e in r], ["1", "1"])


if __name__ == "__main__":
    unittest.main()
