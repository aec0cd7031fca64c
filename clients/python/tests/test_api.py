"""The client against a real cortex serve: every route, the typed answers and
the typed errors."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone

from cortex_client import (
    BatchItem, Client, ConflictError, CortexError, Health, IdempotencyKeyReusedError, InvalidError,
    NotFoundError, PreconditionFailedError, Session, Snapshot, TooLargeError, UnauthorizedError,
)

from . import support
from .support import client, uid


class SessionsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.c = client()
        self.addCleanup(self.c.close)

    def test_put_get_touch_delete(self) -> None:
        sid = uid("life")
        s = self.c.put_session(sid, metadata={"team": "a"}, ttl_seconds=3600)
        self.assertIsInstance(s, Session)
        self.assertEqual((s.id, s.metadata, s.version, s.snapshot_count, s.ttl_seconds), (sid, {"team": "a"}, 0, 0, 3600))
        self.assertEqual(s.created_at.tzinfo, timezone.utc)
        self.assertIsNotNone(s.expires_at)
        # PUT again: metadata replaced, TTL kept.
        s2 = self.c.put_session(sid, metadata={"team": "b"})
        self.assertEqual((s2.metadata, s2.ttl_seconds, s2.created_at), ({"team": "b"}, 3600, s.created_at))
        self.assertEqual(self.c.get_session(sid), s2)
        t = self.c.touch_session(sid)
        self.assertGreaterEqual(t.last_active, s2.last_active)
        self.c.delete_session(sid)
        with self.assertRaises(NotFoundError) as cm:
            self.c.get_session(sid)
        self.assertEqual((cm.exception.status, cm.exception.slug), (404, "not-found"))
        # A second delete is a 404 (no retry happened, so it is not hidden).
        with self.assertRaises(NotFoundError):
            self.c.delete_session(sid)

    def test_create_generated_and_taken(self) -> None:
        s = self.c.create_session(metadata={"k": 1})
        self.assertTrue(s.id)
        self.assertEqual(s.metadata, {"k": 1})
        with self.assertRaises(ConflictError) as cm:
            self.c.create_session(s.id)
        e = cm.exception
        self.assertEqual((e.status, e.type, e.slug), (409, "urn:cortex:problem:exists", "exists"))
        self.assertIn(s.id, e.detail)
        self.assertIsInstance(e, CortexError)

    def test_invalid_input_names_the_field(self) -> None:
        with self.assertRaises(InvalidError) as cm:
            self.c.put_session(uid("ttl"), ttl_seconds=-1)
        e = cm.exception
        self.assertEqual((e.status, e.field, e.slug), (400, "ttl_seconds", "invalid"))
        self.assertTrue(e.title and e.detail)
        with self.assertRaises(InvalidError) as cm:
            self.c.put_session("not an id!")
        self.assertEqual(cm.exception.field, "id")

    def test_list_search_paging(self) -> None:
        run = uid("run")
        ids = set()
        for i in range(12):
            s = self.c.put_session(uid("list"), metadata={"run": run, "n": i % 3, "even": i % 2 == 0})
            ids.add(s.id)
        found = list(self.c.search_sessions({"run": run}, page_size=5))
        self.assertEqual({s.id for s in found}, ids)
        self.assertEqual(len(found), 12)
        # Newest-active first.
        actives = [s.last_active for s in found]
        self.assertEqual(actives, sorted(actives, reverse=True))
        # One page, with a cursor.
        page = self.c.list_sessions(limit=5, metadata={"run": run})
        self.assertEqual(len(page.sessions), 5)
        self.assertIsNotNone(page.next_cursor)
        # Values keep their JSON type: the number 1, not the string "1".
        self.assertEqual(len(list(self.c.search_sessions({"run": run, "n": 1}))), 4)
        self.assertEqual(list(self.c.search_sessions({"run": run, "n": "1"})), [])
        self.assertEqual(len(list(self.c.search_sessions({"run": run, "even": True}))), 6)
        # active_since: all of them are newer than an hour ago; none newer than tomorrow.
        hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
        self.assertEqual(len(list(self.c.sessions(metadata={"run": run}, active_since=hour_ago))), 12)
        tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
        self.assertEqual(list(self.c.sessions(metadata={"run": run}, active_since=tomorrow)), [])
        with self.assertRaises(ValueError):
            self.c.search_sessions({})

    def test_fork(self) -> None:
        sid = uid("fork")
        self.c.put_session(sid)
        for i in range(3):
            self.c.append(sid, {"i": i})
        f = self.c.fork(sid, new_id=sid + "-b", at_version=2)
        self.assertEqual((f.id, f.version, f.snapshot_count), (sid + "-b", 2, 2))
        self.assertEqual(self.c.latest(f.id).state, {"i": 1})
        with self.assertRaises(ConflictError):
            self.c.fork(sid, new_id=sid + "-b")
        with self.assertRaises(NotFoundError):
            self.c.fork(sid, at_version=9)


class SnapshotsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.c = client()
        self.addCleanup(self.c.close)
        self.sid = uid("snap")
        self.c.put_session(self.sid)

    def test_append_and_read(self) -> None:
        r = self.c.append(self.sid, {"step": 1, "text": "héllo"}, metadata={"src": "tool"}, key="ckpt-1")
        self.assertEqual((r.session_id, r.version, r.key, r.replayed), (self.sid, 1, "ckpt-1", False))
        self.assertGreater(r.size_bytes, 0)
        latest = self.c.latest(self.sid)
        self.assertIsInstance(latest, Snapshot)
        self.assertEqual((latest.version, latest.state, latest.metadata, latest.key, latest.has_state),
                         (1, {"step": 1, "text": "héllo"}, {"src": "tool"}, "ckpt-1", True))
        self.assertEqual(self.c.snapshot(self.sid, 1), latest)
        self.assertEqual(self.c.snapshot_by_key(self.sid, "ckpt-1"), latest)
        # Any JSON value is a state, null included.
        r2 = self.c.append(self.sid, None)
        n = self.c.snapshot(self.sid, r2.version)
        self.assertEqual((n.state, n.has_state), (None, True))
        self.assertEqual(self.c.append(self.sid, [1, "two", 3.5]).version, 3)
        with self.assertRaises(NotFoundError):
            self.c.snapshot(self.sid, 99)
        with self.assertRaises(NotFoundError):
            self.c.snapshot_by_key(self.sid, "nope")

    def test_idempotency_key(self) -> None:
        a = self.c.append(self.sid, {"x": 1}, idempotency_key="step-1")
        b = self.c.append(self.sid, {"x": 1}, idempotency_key="step-1")
        self.assertEqual((a.version, a.replayed, b.version, b.replayed), (1, False, 1, True))
        with self.assertRaises(IdempotencyKeyReusedError) as cm:
            self.c.append(self.sid, {"x": 2}, idempotency_key="step-1")
        self.assertEqual((cm.exception.status, cm.exception.slug), (422, "idempotency-key-reused"))
        self.assertEqual(self.c.get_session(self.sid).version, 1)

    def test_snapshot_key_taken(self) -> None:
        self.c.append(self.sid, {"x": 1}, key="k")
        again = self.c.append(self.sid, {"x": 1}, key="k")
        self.assertTrue(again.replayed)
        with self.assertRaises(ConflictError) as cm:
            self.c.append(self.sid, {"x": 2}, key="k")
        self.assertEqual(cm.exception.slug, "exists")

    def test_conditional_append(self) -> None:
        self.assertEqual(self.c.append(self.sid, {"v": 1}, expected_version=0).version, 1)
        with self.assertRaises(PreconditionFailedError) as cm:
            self.c.append(self.sid, {"v": 2}, expected_version=0)
        e = cm.exception
        self.assertEqual((e.status, e.expected_version, e.actual_version), (412, 0, 1))
        self.assertTrue(e.is_version_conflict)
        self.assertIsInstance(e, ConflictError)  # every conflict is one
        self.assertEqual(self.c.append(self.sid, {"v": 2}, expected_version=1).version, 2)

    def test_append_errors(self) -> None:
        with self.assertRaises(NotFoundError) as cm:
            self.c.append(uid("missing"), {"x": 1})
        self.assertIn("not found", cm.exception.detail)
        with self.assertRaises(TooLargeError) as cm2:
            self.c.append(self.sid, {"big": "x" * (1 << 20)})
        self.assertEqual(cm2.exception.status, 413)
        # Not JSON: refused before anything is sent.
        with self.assertRaises(ValueError):
            self.c.append(self.sid, {"x": float("nan")})
        self.assertEqual(self.c.get_session(self.sid).version, 0)

    def test_one_client_many_threads(self) -> None:
        # One client shared by threads: its connections are pooled, each
        # request on its own connection; every append lands once.
        errors: list = []

        def work(t: int) -> None:
            try:
                for i in range(10):
                    self.c.append(self.sid, {"t": t, "i": i})
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        self.assertEqual(errors, [])
        snaps = list(self.c.history(self.sid, include_state=True, page_size=1000))
        self.assertEqual([s.version for s in snaps], list(range(80, 0, -1)))
        self.assertEqual(sorted((s.state["t"], s.state["i"]) for s in snaps),
                         [(t, i) for t in range(8) for i in range(10)])

    def test_batch(self) -> None:
        other = uid("batch")
        self.c.put_session(other)
        res = self.c.append_batch([
            BatchItem(self.sid, {"b": 1}),
            BatchItem(other, {"b": 2}, metadata={"m": 1}, key="kb"),
            BatchItem(self.sid, {"b": 3}, expected_version=1),
        ])
        self.assertEqual([(r.session_id, r.version) for r in res], [(self.sid, 1), (other, 1), (self.sid, 2)])
        self.assertEqual(res[1].key, "kb")
        # All or nothing: a conflict appends none of the items.
        with self.assertRaises(ConflictError) as cm:
            self.c.append_batch([BatchItem(other, {"b": 4}), BatchItem(self.sid, {"b": 5}, expected_version=1)])
        self.assertTrue(cm.exception.is_version_conflict)
        self.assertEqual(self.c.get_session(other).version, 1)
        with self.assertRaises(NotFoundError):
            self.c.append_batch([BatchItem(uid("nobody"), {})])

    def test_history_paging_and_filters(self) -> None:
        for i in range(1, 26):
            self.c.append(self.sid, {"i": i}, metadata={"parity": "odd" if i % 2 else "even"})
        versions = [s.version for s in self.c.history(self.sid, page_size=7)]
        self.assertEqual(versions, list(range(25, 0, -1)))
        plain = next(self.c.history(self.sid))
        self.assertEqual((plain.has_state, plain.state), (False, None))
        with_state = list(self.c.history(self.sid, include_state=True, page_size=10))
        self.assertEqual([s.state["i"] for s in with_state], list(range(25, 0, -1)))
        self.assertEqual([s.version for s in self.c.history(self.sid, before=4)], [3, 2, 1])
        odd = [s.version for s in self.c.history(self.sid, metadata={"parity": "odd"}, page_size=4)]
        self.assertEqual(odd, list(range(25, 0, -2)))
        page = self.c.history_page(self.sid, limit=10)
        self.assertEqual(len(page.snapshots), 10)
        self.assertIsNotNone(page.next_cursor)
        last = self.c.history_page(self.sid, limit=10, before=3)
        self.assertIsNone(last.next_cursor)

    def test_wait_for(self) -> None:
        self.assertIsNone(self.c.wait_for(self.sid, after_version=0, wait=0.1))
        self.c.append(self.sid, {"n": 1})
        now = self.c.wait_for(self.sid, after_version=0, wait=30)
        self.assertEqual((now.version, now.state), (1, {"n": 1}))
        # A long poll answered by an append made while it waits.
        got: list = []
        t = threading.Thread(target=lambda: got.append(self.c.wait_for(self.sid, after_version=1, wait=60)))
        t.start()
        self.c.append(self.sid, {"n": 2})
        t.join(90)
        self.assertFalse(t.is_alive())
        self.assertEqual(got[0].version, 2)
        with self.assertRaises(ValueError):
            self.c.wait_for(self.sid, wait=61)


class AuthHealthTest(unittest.TestCase):
    def test_token(self) -> None:
        url = support.need(support.URL, "CORTEX_URL")
        if not support.TOKEN:
            self.skipTest("the server has no --api-token")
        with Client(url, retry=support.FAST) as c, self.assertRaises(UnauthorizedError) as cm:
            c.get_session("x")
        self.assertEqual((cm.exception.status, cm.exception.slug), (401, "unauthorized"))
        with Client(url, token="wrong-token-wrong-token") as c, self.assertRaises(UnauthorizedError):
            c.get_session("x")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "token")
            with open(path, "w") as f:
                f.write(support.TOKEN + "\n")
            c = Client(url, token_file=path)
            self.addCleanup(c.close)
            sid = uid("tokfile")
            self.assertEqual(c.put_session(sid).id, sid)
            # A rotated file is read again (here: a wrong token, refused).
            with open(path, "w") as f:
                f.write("another-token-another-token\n")
            os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
            with self.assertRaises(UnauthorizedError):
                c.get_session(sid)
        with self.assertRaises(ValueError):
            Client(url, token="a", token_file="b")

    def test_from_env(self) -> None:
        support.need(support.URL, "CORTEX_URL")
        old = dict(os.environ)
        try:
            os.environ["CORTEX_URL"] = support.URL
            if support.TOKEN:
                os.environ["CORTEX_TOKEN"] = support.TOKEN
            os.environ.pop("CORTEX_TOKEN_FILE", None)
            c = Client.from_env()
            self.addCleanup(c.close)
            self.assertEqual(c.base_url, support.URL.rstrip("/"))
            sid = uid("env")
            self.assertEqual(c.put_session(sid).id, sid)
        finally:
            os.environ.clear()
            os.environ.update(old)

    def test_health_and_stats(self) -> None:
        c = client()
        self.addCleanup(c.close)
        self.assertTrue(c.healthz())
        h = c.ready()
        self.assertIsInstance(h, Health)
        self.assertTrue(h.ok, h)
        self.assertIn(h.status, ("healthy", "degraded"))
        self.assertTrue(h.checks)
        self.assertTrue(all(ch.name and ch.status for ch in h.checks))
        a = c.admin_health()
        self.assertTrue(a.ok)
        st = c.stats()
        self.assertIsInstance(st, dict)
        self.assertTrue(st)
        json.dumps(st)


if __name__ == "__main__":
    unittest.main()
