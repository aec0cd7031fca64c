"""Answers no cortex gives, from a scripted stand-in server: the client must
turn each into a clear error, never hang, crash with a stray exception, or
read without bound. (What cortex does answer is tested against the real
server in the other files.)"""

from __future__ import annotations

import socket
import threading
import unittest
from http.server import BaseHTTPRequestHandler

from cortex_client import (
    Client, CortexClientError, CortexError, NotFoundError, ProtocolError, RetryPolicy, ServerError,
    TransportError, UnavailableError,
)

from .support import Handler, Scripted, answer

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, deadline=30)


class HostileTest(unittest.TestCase):
    def serve(self, *handlers) -> Client:
        s = Scripted(*handlers)
        self.addCleanup(s.close)
        self.server = s
        c = Client(s.url, retry=FAST, timeout=5)
        self.addCleanup(c.close)
        return c

    def test_html_error_page(self) -> None:
        c = self.serve(answer(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"))
        with self.assertRaises(ServerError) as cm:
            c.get_session("x")
        e = cm.exception
        self.assertEqual((e.status, e.type, e.title), (502, "about:blank", "Bad Gateway"))
        self.assertIn("502 Bad Gateway", e.detail)
        self.assertEqual(e.body, {})

    def test_problem_with_wrong_member_types(self) -> None:
        c = self.serve(answer(404, b'{"type": 7, "title": null, "detail": ["x"], "expected_version": "1"}',
                              "application/problem+json"))
        with self.assertRaises(NotFoundError) as cm:
            c.get_session("x")
        e = cm.exception
        self.assertEqual((e.type, e.title, e.detail, e.expected_version), ("about:blank", "Not Found", "", None))

    def test_problem_that_is_not_an_object_nor_json(self) -> None:
        for body in (b"[1,2]", b"{not json", b"\xff\xfe", b""):
            c = self.serve(answer(409, body, "application/problem+json"))
            with self.assertRaises(CortexError) as cm:
                c.get_session("x")
            self.assertEqual((cm.exception.status, cm.exception.type), (409, "about:blank"))

    def test_long_error_body_is_cut_in_the_message(self) -> None:
        c = self.serve(answer(500, b"e" * 100000, "text/plain"))
        with self.assertRaises(ServerError) as cm:
            c.get_session("x")
        self.assertLess(len(str(cm.exception)), 1000)

    def test_success_that_is_not_json(self) -> None:
        c = self.serve(answer(200, b"<html>hello</html>", "text/html"))
        with self.assertRaises(ProtocolError):
            c.get_session("x")

    def test_success_of_the_wrong_shape(self) -> None:
        cases = [
            b'{"created_at": "2026-01-01T00:00:00Z"}',  # no id
            b'{"id": "x", "created_at": "yesterday", "last_active": "2026-01-01T00:00:00Z"}',
            b'{"id": "x", "created_at": "2026-01-01T00:00:00Z", "last_active": "2026-01-01T00:00:00Z", "version": "3"}',
            b'{"id": "x", "created_at": "2026-13-01T00:00:00Z", "last_active": "2026-01-01T00:00:00Z"}',
            b'[]',
        ]
        for body in cases:
            c = self.serve(answer(200, body))
            with self.assertRaises(ProtocolError, msg=body):
                c.get_session("x")

    def test_unexpected_success_or_redirect(self) -> None:
        c = self.serve(answer(200, b"{}"))  # a create answers 201
        with self.assertRaises(ProtocolError):
            c.create_session("x")
        c = self.serve(answer(302, b"", "text/plain", {"Location": "https://login.example/"}))
        with self.assertRaises(ProtocolError) as cm:
            c.get_session("x")
        self.assertIn("login.example", str(cm.exception))

    def test_unknown_members_are_kept_not_refused(self) -> None:
        c = self.serve(answer(200, b'{"id": "x", "created_at": "2026-01-01T00:00:00.123456789Z", '
                                   b'"last_active": "2026-01-01T01:00:00+01:00", "future": 1}'))
        s = c.get_session("x")
        self.assertEqual((s.id, s.version, s.metadata, s.raw["future"]), ("x", 0, {}, 1))
        self.assertEqual(s.created_at.microsecond, 123456)
        self.assertEqual(s.created_at.replace(microsecond=0), s.last_active)

    def test_cut_body_is_retried_then_raised(self) -> None:
        c = self.serve(answer(200, b'{"id": "x"', length=500))
        with self.assertRaises(TransportError) as cm:
            c.get_session("x")
        self.assertEqual(cm.exception.attempts, 3)
        self.assertEqual(len(self.server.requests), 3)

    def test_body_over_the_bound(self) -> None:
        s = Scripted(answer(200, b"[" + b"1," * 5000 + b"1]"))
        self.addCleanup(s.close)
        c = Client(s.url, max_body_bytes=1000, retry=FAST)
        self.addCleanup(c.close)
        with self.assertRaises(ProtocolError):
            c.get_session("x")

    def test_chunked_body_over_the_bound(self) -> None:
        def chunked(r: BaseHTTPRequestHandler) -> None:
            r.send_response(200)
            r.send_header("Content-Type", "application/json")
            r.send_header("Transfer-Encoding", "chunked")
            r.end_headers()
            for _ in range(50):
                r.wfile.write(b"400\r\n" + b" " * 1024 + b"\r\n")
            r.wfile.write(b"0\r\n\r\n")

        s = Scripted(chunked)
        self.addCleanup(s.close)
        c = Client(s.url, max_body_bytes=10000, retry=FAST)
        self.addCleanup(c.close)
        with self.assertRaises(ProtocolError):
            c.get_session("x")

    def test_delete_404_after_a_503_is_raised(self) -> None:
        # The 503 was not acted on: the 404 that follows is the answer.
        c = self.serve(answer(503, b"busy", "text/plain", {"Retry-After": "0"}),
                       answer(404, b'{"type":"urn:cortex:problem:not-found","title":"Not found","status":404}',
                              "application/problem+json"))
        with self.assertRaises(NotFoundError) as cm:
            c.delete_session("x")
        self.assertEqual((cm.exception.attempts, cm.exception.after_lost_answer), (2, False))

    def test_429_then_success(self) -> None:
        ok = answer(200, b'{"id": "x", "created_at": "2026-01-01T00:00:00Z", "last_active": "2026-01-01T00:00:00Z"}')
        c = self.serve(answer(429, b"slow down", "text/plain", {"Retry-After": "0"}), ok)
        self.assertEqual(c.get_session("x").id, "x")
        self.assertEqual(len(self.server.requests), 2)

    def test_503_with_an_http_date_retry_after_past_the_deadline(self) -> None:
        s = Scripted(answer(503, b'{"type":"urn:cortex:problem:unavailable","title":"Storage unavailable","status":503}',
                            "application/problem+json", {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}))
        self.addCleanup(s.close)
        c = Client(s.url, retry=RetryPolicy(attempts=5, deadline=10))
        self.addCleanup(c.close)
        with self.assertRaises(UnavailableError) as cm:
            c.get_session("x")
        # The wait asked for is past the call's deadline: no retry, at once.
        self.assertEqual((cm.exception.attempts, len(s.requests)), (1, 1))
        self.assertEqual(cm.exception.slug, "unavailable")

    def test_silent_server_times_out(self) -> None:
        ln = socket.socket()
        ln.bind(("127.0.0.1", 0))
        ln.listen(4)
        self.addCleanup(ln.close)
        c = Client("http://127.0.0.1:%d" % ln.getsockname()[1], timeout=0.2, retry=RetryPolicy(attempts=1))
        self.addCleanup(c.close)
        with self.assertRaises(TransportError):
            c.latest("x")
        with self.assertRaises(TransportError):
            c.latest("x", timeout=0.1)

    def test_garbage_status_line(self) -> None:
        def garbage(r: BaseHTTPRequestHandler) -> None:
            r.wfile.write(b"SPDY/9 what\r\n\r\n")
            r.close_connection = True

        c = self.serve(garbage)
        with self.assertRaises(TransportError):
            c.get_session("x")

    def test_everything_is_a_cortex_client_error(self) -> None:
        for h in (answer(500, b"x", "text/plain"), answer(200, b"nope")):
            c = self.serve(h)
            with self.assertRaises(CortexClientError):
                c.get_session("x")


def sse(body: bytes, status: int = 200) -> Handler:
    def h(r: BaseHTTPRequestHandler) -> None:
        r.send_response(status)
        r.send_header("Content-Type", "text/event-stream")
        r.end_headers()
        r.wfile.write(body)
        r.wfile.flush()
        r.close_connection = True

    return h


SESSION = (b'event: session\ndata: {"id":"s","created_at":"2026-01-01T00:00:00Z",'
           b'"last_active":"2026-01-01T00:00:00Z","version":0}\n\n')


def snap(v: int) -> bytes:
    return (b"id: %d\r\nevent: snapshot\r\ndata: {\"session_id\":\"s\",\"version\":%d,"
            b"\"created_at\":\"2026-01-01T00:00:00Z\",\"size_bytes\":1}\r\n\r\n" % (v, v))


class HostileStreamTest(unittest.TestCase):
    def serve(self, *handlers, **kw) -> Client:
        s = Scripted(*handlers)
        self.addCleanup(s.close)
        self.server = s
        c = Client(s.url, retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02), **kw)
        self.addCleanup(c.close)
        return c

    def test_cut_mid_event_reconnects_and_resumes(self) -> None:
        # First connection: v1 whole, v2 cut in its middle; the second
        # connection must ask for what follows v1 and give v2 once.
        c = self.serve(sse(SESSION + snap(1) + snap(2)[:30]), sse(b"retry: 10\n\n" + SESSION + snap(2) + snap(3)),
                       sse(b": nothing more\n\n"))
        w = c.watch("s")
        self.addCleanup(w.close)
        kinds = [(e.kind, e.snapshot.version if e.snapshot else None) for e in (next(w) for _ in range(5))]
        self.assertEqual(kinds, [("session", None), ("snapshot", 1), ("session", None), ("snapshot", 2), ("snapshot", 3)])
        self.assertEqual(self.server.requests[1][2].get("Last-Event-ID"), "1")
        self.assertEqual(self.server.requests[1][1], "/v1/sessions/s/events")

    def test_end_event_reconnects(self) -> None:
        # `end` (the server shutting down): the rest of that stream is not
        # read; the watch reconnects after the last version.
        c = self.serve(sse(SESSION + snap(1) + b'event: end\ndata: {"reason":"shutdown"}\n\n' + snap(9)),
                       sse(SESSION + snap(2) + b'event: deleted\ndata: {"session_id":"s"}\n\n'))
        got = [(e.kind, e.snapshot.version if e.snapshot else None) for e in c.watch("s")]
        self.assertEqual(got, [("session", None), ("snapshot", 1), ("session", None), ("snapshot", 2), ("deleted", None)])
        self.assertEqual(self.server.requests[1][2].get("Last-Event-ID"), "1")

    def test_duplicates_are_dropped(self) -> None:
        c = self.serve(sse(SESSION + snap(1) + snap(1) + snap(2) + b'event: deleted\ndata: {"session_id":"s"}\n\n'))
        got = [(e.kind, e.snapshot.version if e.snapshot else None) for e in c.watch("s")]
        self.assertEqual(got, [("session", None), ("snapshot", 1), ("snapshot", 2), ("deleted", None)])

    def test_unknown_events_are_skipped(self) -> None:
        c = self.serve(sse(SESSION + b"event: future\ndata: {}\n\ndata: no event name\n\n" +
                           b'event: deleted\ndata: {"session_id":"s"}\n\n'))
        self.assertEqual([e.kind for e in c.watch("s")], ["session", "deleted"])

    def test_event_data_that_is_not_json(self) -> None:
        c = self.serve(sse(b"event: snapshot\ndata: {oops\n\n"))
        with self.assertRaises(ProtocolError):
            list(c.watch("s"))

    def test_line_over_the_bound(self) -> None:
        c = self.serve(sse(b"data: " + b"x" * 5000 + b"\n\n"))
        with self.assertRaises(ProtocolError):
            list(c.watch("s", max_event_bytes=1000))

    def test_server_that_keeps_ending_the_stream_is_given_up(self) -> None:
        c = self.serve(sse(b""))
        with self.assertRaises(TransportError) as cm:
            list(c.watch("s"))
        self.assertEqual(cm.exception.attempts, 3)
        self.assertEqual(len(self.server.requests), 3)

    def test_stream_timeout_reconnects(self) -> None:
        def silent(r: BaseHTTPRequestHandler) -> None:
            r.send_response(200)
            r.send_header("Content-Type", "text/event-stream")
            r.end_headers()
            r.wfile.write(SESSION)
            r.wfile.flush()
            r.rfile.read(1)  # until the client goes away

        c = self.serve(silent, sse(SESSION + b'event: deleted\ndata: {"session_id":"s"}\n\n'))
        got = [e.kind for e in c.watch("s", stream_timeout=0.3)]
        self.assertEqual(got, ["session", "session", "deleted"])

    def test_close_ends_a_wait_to_reconnect(self) -> None:
        s = Scripted(sse(SESSION))
        self.addCleanup(s.close)
        retrying = threading.Event()
        c = Client(s.url, retry=RetryPolicy(attempts=5, base_delay=3600, max_delay=3600),
                   on_retry=lambda n, err, wait: retrying.set())
        self.addCleanup(c.close)
        w = c.watch("s")
        self.assertEqual(next(w).kind, "session")
        done = threading.Event()
        t = threading.Thread(target=lambda: (list(w), done.set()), daemon=True)
        t.start()
        self.assertTrue(retrying.wait(30))  # the stream ended; it waits an hour to reconnect
        w.close()
        self.assertTrue(done.wait(30))

    def test_error_answer_on_open(self) -> None:
        c = self.serve(answer(403, b'{"type":"urn:cortex:problem:forbidden","title":"Forbidden","status":403}',
                              "application/problem+json"))
        with self.assertRaises(CortexError) as cm:
            next(c.watch("s"))
        self.assertEqual(cm.exception.slug, "forbidden")


if __name__ == "__main__":
    unittest.main()
