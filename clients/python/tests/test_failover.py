"""A watch outlives its server: cortex serve is stopped (SIGTERM: it ends
every stream with `event: end`) and another one started on the same
database; the watch reconnects and resumes after the last version it gave,
missing nothing appended in between and repeating nothing.

The test runs the real binary itself (CORTEX_BIN) on a database of its own
(CORTEX_FAILOVER_DB: a file path or a postgres:// URL), given by the Go
driver."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request
from typing import Tuple

from cortex_client import Client, RetryPolicy

from . import support
from .support import Proxy, free_port, uid


def start(bin: str, db: str, log: str) -> Tuple[subprocess.Popen, str]:
    """cortex serve on db, once /healthz answers."""
    addr = "127.0.0.1:%d" % free_port()
    out = open(log, "ab")
    p = subprocess.Popen([bin, "serve", "--db", db, "--addr", addr], stdout=out, stderr=out)
    out.close()
    url = "http://" + addr
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return p, url
        except OSError:
            pass
        if p.poll() is not None:
            raise AssertionError(f"cortex serve exited with {p.returncode}: {open(log).read()[-2000:]}")
        if time.monotonic() > deadline:
            p.kill()
            raise AssertionError(f"cortex serve did not answer /healthz in 60 s: {open(log).read()[-2000:]}")
        time.sleep(0.05)


class FailoverTest(unittest.TestCase):
    def test_watch_resumes_on_the_next_server(self) -> None:
        bin = support.need(os.environ.get("CORTEX_BIN", ""), "CORTEX_BIN")
        db = support.need(os.environ.get("CORTEX_FAILOVER_DB", ""), "CORTEX_FAILOVER_DB")
        tmp = tempfile.mkdtemp()
        log = os.path.join(tmp, "serve.log")
        a, a_url = start(bin, db, log)
        self.addCleanup(lambda: a.poll() is None and a.kill())
        direct_a = Client(a_url, retry=support.FAST)
        self.addCleanup(direct_a.close)
        sid = uid("failover")
        direct_a.put_session(sid)
        direct_a.append(sid, {"n": 1})
        direct_a.append(sid, {"n": 2})

        proxy = Proxy(a_url)
        self.addCleanup(proxy.close)
        # Patient reconnects: the next server takes a moment to start.
        c = Client(proxy.url, retry=RetryPolicy(attempts=400, base_delay=0.05, max_delay=0.25, deadline=120))
        self.addCleanup(c.close)
        w = c.watch(sid, include_state=True)
        self.addCleanup(w.close)
        got = [next(w) for _ in range(3)]
        self.assertEqual([(e.kind, e.snapshot and e.snapshot.version) for e in got],
                         [("session", None), ("snapshot", 1), ("snapshot", 2)])

        a.send_signal(signal.SIGTERM)
        self.assertEqual(a.wait(60), 0, open(log).read()[-2000:])
        b, b_url = start(bin, db, log)
        self.addCleanup(lambda: b.poll() is None and (b.send_signal(signal.SIGTERM), b.wait(60)))
        proxy.upstream = ("127.0.0.1", int(b_url.rsplit(":", 1)[1]))
        direct_b = Client(b_url, retry=support.FAST)
        self.addCleanup(direct_b.close)
        direct_b.append(sid, {"n": 3})
        direct_b.append(sid, {"n": 4})

        rest = []
        for ev in w:
            if ev.kind == "snapshot":
                rest.append((ev.snapshot.version, ev.snapshot.state))
                if ev.snapshot.version == 4:
                    break
        self.assertEqual(rest, [(3, {"n": 3}), (4, {"n": 4})])
        self.assertGreaterEqual(w.connections, 2)


if __name__ == "__main__":
    unittest.main()
