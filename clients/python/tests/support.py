"""What the tests share: the server under test, and two small network tools
of the standard library — a TCP proxy that can lose answers or cut
connections (the real server stays behind it), and a stand-in HTTP server
that answers whatever a test scripts (for hostile answers no cortex gives).

The server comes from the environment: CORTEX_URL (and CORTEX_TOKEN when it
has one; CORTEX_LIMITED_URL, a server started with --max-watchers 1, for the
503 tests). The Go driver (python_test.go) starts them. Without CORTEX_URL the
tests that need a server skip, unless CORTEX_REQUIRE_SERVER=1.
"""

from __future__ import annotations

import os
import socket
import threading
import unittest
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, List, Optional, Tuple

from cortex_client import Client, RetryPolicy

URL = os.environ.get("CORTEX_URL", "")
TOKEN = os.environ.get("CORTEX_TOKEN") or None
LIMITED_URL = os.environ.get("CORTEX_LIMITED_URL", "")
ENGINE = os.environ.get("CORTEX_ENGINE", "unknown")
REQUIRE = os.environ.get("CORTEX_REQUIRE_SERVER") == "1"

# Fast retries for tests: what is tested is that they happen, not their pace.
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.1, deadline=60.0)


def need(url: str, name: str) -> str:
    if url:
        return url
    msg = f"{name} is not set: run `go test ./clients/python/` (it starts cortex serve), or set it"
    if REQUIRE:
        raise AssertionError(msg)
    raise unittest.SkipTest(msg)


def client(**kw) -> Client:
    kw.setdefault("token", TOKEN)
    kw.setdefault("retry", FAST)
    kw.setdefault("timeout", 30.0)
    return Client(need(URL, "CORTEX_URL"), **kw)


def uid(prefix: str) -> str:
    """A session id no other test (or earlier run) uses."""
    return f"py-{prefix}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proxy:
    """A TCP proxy to the server under test.

    ``lose_answers(n)``: the next n answers are lost — the request reaches the
    server and is served, the first bytes of its answer arrive at the proxy,
    and the proxy then closes the client's connection without relaying them
    (what a network failure after the server's commit looks like).
    ``cut_all()`` closes every connection open now. ``connections`` counts the
    connections accepted.
    """

    def __init__(self, upstream: str) -> None:
        u = urllib.parse.urlsplit(upstream)
        self.upstream: Tuple[str, int] = (u.hostname or "127.0.0.1", u.port or 80)
        self._ln = socket.socket()
        self._ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._ln.bind(("127.0.0.1", 0))
        self._ln.listen(64)
        self.url = "http://127.0.0.1:%d" % self._ln.getsockname()[1]
        self._lock = threading.Lock()
        self._lose = 0
        self.lost = 0
        self.connections = 0
        self._open: List[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_answers(self, n: int) -> None:
        with self._lock:
            self._lose = n

    def cut_all(self) -> None:
        with self._lock:
            socks, self._open = self._open, []
        for s in socks:
            _shut(s)

    def close(self) -> None:
        self._closed = True
        _shut(self._ln)
        self._ln.close()
        self.cut_all()

    def _accept(self) -> None:
        while not self._closed:
            try:
                c, _ = self._ln.accept()
            except OSError:
                return
            if self._closed:
                c.close()
                return
            try:
                up = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                c.close()
                continue
            up.settimeout(None)
            with self._lock:
                self.connections += 1
                self._open += [c, up]
            threading.Thread(target=self._pump, args=(c, up, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, c, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if answers:
                    with self._lock:
                        lose = self._lose > 0
                        if lose:
                            self._lose -= 1
                            self.lost += 1
                    if lose:
                        break
                dst.sendall(b)
        except OSError:
            pass
        _shut(src)
        _shut(dst)
        src.close()
        dst.close()


def _shut(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


Handler = Callable[[BaseHTTPRequestHandler], None]


class Scripted:
    """An HTTP server on loopback whose answers a test scripts: each request
    pops the next handler (the last one repeats). For hostile answers: bodies
    that are not JSON, cut bodies, silence."""

    def __init__(self, *handlers: Handler) -> None:
        self.handlers = list(handlers)
        self.requests: List[Tuple[str, str, dict]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:  # quiet
                pass

            def _any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                outer.requests.append((self.command, self.path, dict(self.headers)))
                h = outer.handlers.pop(0) if len(outer.handlers) > 1 else outer.handlers[0]
                h(self)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a client that went away mid-answer is what some tests do

        self.server = Server(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer(status: int, body: bytes, ctype: str = "application/json", headers: Optional[dict] = None,
           length: Optional[int] = None) -> Handler:
    """A handler answering status and body (Content-Length ``length`` when
    given: a larger one makes a cut body)."""

    def h(r: BaseHTTPRequestHandler) -> None:
        r.send_response(status)
        r.send_header("Content-Type", ctype)
        r.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            r.send_header(k, v)
        r.end_headers()
        r.wfile.write(body)
        r.wfile.flush()
        if length is not None and length != len(body):
            r.close_connection = True
            r.connection.shutdown(socket.SHUT_RDWR)

    return h
