"""Watching a session through the real server's event stream."""

from __future__ import annotations

import itertools
import threading
import unittest

from cortex_client import Event, NotFoundError

from .support import client, uid


class WatchTest(unittest.TestCase):
    def setUp(self) -> None:
        self.c = client()
        self.addCleanup(self.c.close)
        self.sid = uid("watch")
        self.c.put_session(self.sid, metadata={"a": 1})

    def test_history_then_live_then_close(self) -> None:
        for i in range(3):
            self.c.append(self.sid, {"i": i})
        w = self.c.watch(self.sid, include_state=True)
        self.addCleanup(w.close)
        first = next(w)
        self.assertIsInstance(first, Event)
        self.assertEqual((first.kind, first.session.id, first.session.metadata), ("session", self.sid, {"a": 1}))
        got = [next(w) for _ in range(3)]
        self.assertEqual([(e.kind, e.snapshot.version, e.snapshot.state) for e in got],
                         [("snapshot", v, {"i": v - 1}) for v in (1, 2, 3)])
        self.assertEqual(w.last_version, 3)
        # Live: an append after the watch opened.
        self.c.append(self.sid, {"live": True})
        ev = next(w)
        self.assertEqual((ev.kind, ev.snapshot.version, ev.snapshot.state), ("snapshot", 4, {"live": True}))
        # A metadata change is a session event.
        self.c.put_session(self.sid, metadata={"a": 2})
        ev = next(w)
        self.assertEqual((ev.kind, ev.session.metadata), ("session", {"a": 2}))
        # close() from another thread ends a blocked iteration.
        rest: list = []
        t = threading.Thread(target=lambda: rest.extend(w))
        t.start()
        w.close()
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertEqual(rest, [])
        self.assertEqual(w.connections, 1)

    def test_without_state_and_resume_after_version(self) -> None:
        for i in range(5):
            self.c.append(self.sid, {"i": i})
        with self.c.watch(self.sid, after_version=3) as w:
            evs = list(itertools.islice(w, 3))
        self.assertEqual([e.kind for e in evs], ["session", "snapshot", "snapshot"])
        self.assertEqual([e.snapshot.version for e in evs[1:]], [4, 5])
        self.assertFalse(evs[1].snapshot.has_state)

    def test_deleted_ends_the_watch(self) -> None:
        self.c.append(self.sid, {"i": 0})
        w = self.c.watch(self.sid)
        self.addCleanup(w.close)
        self.assertEqual([next(w).kind, next(w).kind], ["session", "snapshot"])
        self.c.delete_session(self.sid)
        rest = list(w)
        self.assertEqual([(e.kind, e.session_id) for e in rest], [("deleted", self.sid)])

    def test_missing_session(self) -> None:
        w = self.c.watch(uid("nobody"))
        with self.assertRaises(NotFoundError):
            next(w)


if __name__ == "__main__":
    unittest.main()
