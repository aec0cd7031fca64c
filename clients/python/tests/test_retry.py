"""Retries against the real server: answers lost on the way back (a proxy
in front of the server drops them after the server has served the request),
connections refused, real 503s from a server at its --max-watchers limit,
timeouts, and a watch whose stream is cut."""

from __future__ import annotations

import socket
import threading
import unittest

from cortex_client import (
    BatchItem, Client, ConflictError, NotFoundError, RetryPolicy, TransportError, UnavailableError,
)

from . import support
from .support import FAST, Proxy, client, free_port, uid


class LostAnswerTest(unittest.TestCase):
    """The request reaches the server and commits; its answer is lost."""

    def setUp(self) -> None:
        self.direct = client()
        self.addCleanup(self.direct.close)
        self.proxy = Proxy(support.need(support.URL, "CORTEX_URL"))
        self.addCleanup(self.proxy.close)
        self.retries: list = []
        self.c = Client(self.proxy.url, token=support.TOKEN, retry=FAST,
                        on_retry=lambda n, err, wait: self.retries.append(err))
        self.addCleanup(self.c.close)
        self.sid = uid("lost")
        self.direct.put_session(self.sid)

    def test_append_is_retried_and_appends_once(self) -> None:
        self.proxy.lose_answers(1)
        r = self.c.append(self.sid, {"step": 1})
        self.assertEqual(self.proxy.lost, 1)
        self.assertEqual(len(self.retries), 1)
        # The retry carried the same Idempotency-Key: the server answered the
        # first append instead of appending again.
        self.assertEqual((r.version, r.replayed), (1, True))
        self.assertEqual([s.version for s in self.direct.history(self.sid)], [1])
        self.assertEqual(self.direct.latest(self.sid).state, {"step": 1})

    def test_conditional_append_is_retried(self) -> None:
        # Without the idempotency key, the retry of `expected_version=0`
        # would fail with 412 although the append succeeded.
        self.proxy.lose_answers(1)
        r = self.c.append(self.sid, {"step": 1}, expected_version=0)
        self.assertEqual((r.version, r.replayed), (1, True))

    def test_batch_is_retried_and_appends_once(self) -> None:
        self.proxy.lose_answers(1)
        res = self.c.append_batch([BatchItem(self.sid, {"b": 1}), BatchItem(self.sid, {"b": 2})])
        self.assertEqual(self.proxy.lost, 1)
        self.assertEqual([r.version for r in res], [1, 2])
        self.assertEqual([s.version for s in self.direct.history(self.sid)], [2, 1])

    def test_put_and_delete_are_retried(self) -> None:
        self.proxy.lose_answers(1)
        s = self.c.put_session(self.sid, metadata={"m": 1})
        self.assertEqual(s.metadata, {"m": 1})
        self.proxy.lose_answers(1)
        # The first DELETE deleted it; the retry's 404 means just that.
        self.c.delete_session(self.sid)
        self.assertEqual(len(self.retries), 2)
        with self.assertRaises(NotFoundError):
            self.direct.get_session(self.sid)

    def test_create_without_id_is_not_resent(self) -> None:
        # A create of a generated id could create twice: the error comes back.
        self.proxy.lose_answers(1)
        with self.assertRaises(TransportError) as cm:
            self.c.create_session(metadata={"lost": self.sid})
        self.assertEqual(cm.exception.attempts, 1)
        self.assertEqual(self.retries, [])
        # It was created, once.
        self.assertEqual(len(list(self.direct.search_sessions({"lost": self.sid}))), 1)

    def test_create_with_id_is_resent(self) -> None:
        # It cannot create twice: the repeat says the id is taken, and that
        # an answer was lost before it.
        new = uid("create")
        self.proxy.lose_answers(1)
        with self.assertRaises(ConflictError) as cm:
            self.c.create_session(new)
        self.assertEqual((cm.exception.attempts, cm.exception.after_lost_answer), (2, True))
        self.assertEqual(self.direct.get_session(new).id, new)


class RefusedTest(unittest.TestCase):
    def test_connection_refused_is_retried_then_raised(self) -> None:
        retries: list = []
        c = Client("http://127.0.0.1:%d" % free_port(), retry=RetryPolicy(attempts=3, base_delay=0.01),
                   on_retry=lambda n, err, wait: retries.append(n))
        self.addCleanup(c.close)
        # Nothing was sent: even a create is retried.
        with self.assertRaises(TransportError) as cm:
            c.create_session("x")
        self.assertEqual(cm.exception.attempts, 3)
        self.assertEqual(retries, [1, 2])
        self.assertIsInstance(cm.exception.__cause__, ConnectionRefusedError)

    def test_timeout(self) -> None:
        # A server that accepts and never answers.
        ln = socket.socket()
        ln.bind(("127.0.0.1", 0))
        ln.listen(8)
        self.addCleanup(ln.close)
        c = Client("http://127.0.0.1:%d" % ln.getsockname()[1], timeout=0.2,
                   retry=RetryPolicy(attempts=2, base_delay=0.01))
        self.addCleanup(c.close)
        with self.assertRaises(TransportError) as cm:
            c.get_session("x")  # a read: resent once
        self.assertEqual(cm.exception.attempts, 2)
        self.assertIsInstance(cm.exception.__cause__, socket.timeout)
        with self.assertRaises(TransportError) as cm:
            c.create_session()  # sent, and could create twice: not resent
        self.assertEqual(cm.exception.attempts, 1)


class UnavailableTest(unittest.TestCase):
    """503 from the real server: it holds --max-watchers 1, and a watch is open."""

    def setUp(self) -> None:
        url = support.need(support.LIMITED_URL, "CORTEX_LIMITED_URL")
        self.sid = uid("busy")
        self.holder = Client(url)
        self.addCleanup(self.holder.close)
        self.holder.put_session(self.sid)
        self.url = url

    def hold(self):
        w = self.holder.watch(self.sid)
        self.addCleanup(w.close)
        self.assertEqual(next(w).kind, "session")  # the slot is taken now
        return w

    def test_retry_after_is_honoured_and_exhausted(self) -> None:
        w = self.hold()
        waits: list = []
        c = Client(self.url, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05),
                   on_retry=lambda n, err, wait: waits.append((err, wait)))
        self.addCleanup(c.close)
        with self.assertRaises(UnavailableError) as cm:
            c.wait_for(self.sid, wait=1)
        e = cm.exception
        self.assertEqual((e.status, e.slug, e.attempts, e.retry_after), (503, "too-many-watchers", 2, 1.0))
        self.assertEqual(len(waits), 1)
        # Retry-After: 1 wins over the policy's 0.05 s ceiling.
        self.assertGreaterEqual(waits[0][1], 1.0)
        w.close()

    def test_retry_succeeds_once_the_server_has_room(self) -> None:
        w = self.hold()
        self.holder.append(self.sid, {"n": 1})
        first_retry = threading.Event()

        def on_retry(n: int, err: BaseException, wait: float) -> None:
            self.assertIsInstance(err, UnavailableError)
            first_retry.set()

        c = Client(self.url, retry=RetryPolicy(attempts=30, base_delay=0.05, max_delay=1.0, deadline=120),
                   on_retry=on_retry)
        self.addCleanup(c.close)
        got: list = []
        t = threading.Thread(target=lambda: got.append(c.wait_for(self.sid, after_version=0, wait=30)))
        t.start()
        self.assertTrue(first_retry.wait(60), "no 503 seen")
        w.close()  # the slot frees; a retry gets in
        t.join(120)
        self.assertFalse(t.is_alive())
        self.assertEqual(got[0].version, 1)


class WatchReconnectTest(unittest.TestCase):
    def test_cut_stream_resumes_after_the_last_version(self) -> None:
        direct = client()
        self.addCleanup(direct.close)
        proxy = Proxy(support.need(support.URL, "CORTEX_URL"))
        self.addCleanup(proxy.close)
        c = Client(proxy.url, token=support.TOKEN, retry=FAST)
        self.addCleanup(c.close)
        sid = uid("cut")
        direct.put_session(sid)
        for i in range(1, 4):
            direct.append(sid, {"i": i})
        w = c.watch(sid, include_state=True)
        self.addCleanup(w.close)
        seen = [next(w) for _ in range(4)]
        self.assertEqual([e.kind for e in seen], ["session", "snapshot", "snapshot", "snapshot"])
        proxy.cut_all()
        # Appended while the watch is cut off: it must get these, once each.
        for i in range(4, 7):
            direct.append(sid, {"i": i})
        rest = []
        for ev in w:
            if ev.kind == "snapshot":
                rest.append((ev.snapshot.version, ev.snapshot.state["i"]))
            if len(rest) == 3:
                break
        self.assertEqual(rest, [(4, 4), (5, 5), (6, 6)])
        self.assertEqual(w.connections, 2)
        self.assertEqual(w.last_version, 6)


if __name__ == "__main__":
    unittest.main()
