// Tests of the TypeScript client against a real `cortex serve` at
// CORTEX_URL (token CORTEX_TOKEN). clients/typescript/typescript_test.go
// starts the server (SQLite and PostgreSQL) and runs `node --test` here.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Client, CortexError, parseRetryAfter } from "../dist/index.js";

const base = process.env.CORTEX_URL;
const token = process.env.CORTEX_TOKEN;
if (!base) throw new Error("CORTEX_URL is not set: run through typescript_test.go, or point it at a cortex serve");

const run = `ts-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
let n = 0;
const sid = (what) => `${run}-${what}-${n++}`;
const client = (opts = {}) => new Client({ baseUrl: base, token, retryBaseMs: 10, ...opts });

test("sessions: create, put, get, touch, delete", async () => {
  const c = client();
  const id = sid("s");
  const s = await c.createSession({ id, metadata: { team: "a" }, ttlSeconds: 3600 });
  assert.equal(s.id, id);
  assert.deepEqual(s.metadata, { team: "a" });
  assert.equal(s.version, 0);
  const taken = await c.createSession({ id }).catch((e) => e);
  assert.ok(taken instanceof CortexError);
  assert.equal(taken.status, 409);
  assert.equal(taken.slug, "exists");
  const put = await c.putSession(id, { metadata: { team: "b" } });
  assert.equal(put.created, false);
  assert.equal((await c.getSession(id)).metadata.team, "b");
  assert.equal((await c.putSession(sid("p"))).created, true);
  await c.touchSession(id);
  const generated = await c.createSession();
  assert.match(generated.id, /^[0-9a-f-]{36}$/);
  await c.deleteSession(id);
  const gone = await c.getSession(id).catch((e) => e);
  assert.ok(gone instanceof CortexError);
  assert.equal(gone.status, 404);
  assert.equal(gone.type, "urn:cortex:problem:not-found");
  assert.ok(gone.isNotFound);
  assert.ok(gone.title.length > 0);
});

test("append, If-Match conflict as a typed error, latest, by version and by key", async () => {
  const c = client();
  const id = sid("a");
  await c.putSession(id);
  const r1 = await c.append(id, { step: 1 }, { ifMatch: 0, metadata: { source: "input" }, key: "k-1" });
  assert.equal(r1.version, 1);
  assert.equal(r1.replayed, false);
  assert.equal(r1.key, "k-1");
  const conflict = await c.append(id, { step: 1 }, { ifMatch: 0 }).catch((e) => e);
  assert.ok(conflict instanceof CortexError, String(conflict));
  assert.equal(conflict.status, 412);
  assert.equal(conflict.expectedVersion, 0);
  assert.equal(conflict.actualVersion, 1);
  assert.ok(conflict.isVersionConflict);
  await c.append(id, { step: 2 }, { ifMatch: 1 });
  const latest = await c.latest(id);
  assert.equal(latest.version, 2);
  assert.deepEqual(latest.state, { step: 2 });
  assert.deepEqual((await c.getSnapshot(id, 1)).state, { step: 1 });
  const byKey = await c.getSnapshotByKey(id, "k-1");
  assert.equal(byKey.version, 1);
  assert.deepEqual(byKey.metadata, { source: "input" });
  // A bad input answers 400 with the field and changes nothing.
  const bad = await c.append(id, { x: 1 }, { key: "bad key!" }).catch((e) => e);
  assert.equal(bad.status, 400);
  assert.equal(bad.slug, "invalid");
  assert.equal((await c.getSession(id)).version, 2);
  // Appending to a session that does not exist is a 404.
  const none = await c.append(sid("none"), {}).catch((e) => e);
  assert.equal(none.status, 404);
});

test("an append retried after a network failure appends once", async () => {
  // A fetch that sends the request, then loses the answer: the client sees
  // a network failure after the server appended, and retries.
  let lost = 0;
  const losing = async (url, init) => {
    const res = await fetch(url, init);
    if (init.method === "POST" && lost < 1) {
      lost++;
      await res.arrayBuffer();
      throw new TypeError("fetch failed (answer lost)");
    }
    return res;
  };
  const c = client({ fetch: losing });
  const id = sid("idem");
  await c.putSession(id);
  const r = await c.append(id, { once: true });
  assert.equal(lost, 1);
  assert.equal(r.version, 1);
  assert.equal(r.replayed, true, "the retry is answered by the first append");
  assert.equal((await c.getSession(id)).snapshot_count, 1);

  lost = 0;
  const rs = await c.appendBatch([
    { sessionId: id, state: { b: 1 } },
    { sessionId: id, state: { b: 2 } },
  ]);
  assert.equal(lost, 1);
  assert.deepEqual(rs.map((x) => x.version), [2, 3]);
  assert.equal((await c.getSession(id)).snapshot_count, 3);

  // The same explicit key with a different request is a 422.
  const c2 = client();
  await c2.append(id, { v: 1 }, { idempotencyKey: "same-key" });
  const reused = await c2.append(id, { v: 2 }, { idempotencyKey: "same-key" }).catch((e) => e);
  assert.equal(reused.status, 422);
  assert.equal(reused.slug, "idempotency-key-reused");
});

test("a create without an id is not retried after a network failure", async () => {
  let calls = 0;
  const failing = async () => {
    calls++;
    throw new TypeError("fetch failed");
  };
  const c = client({ fetch: failing });
  const e = await c.createSession().catch((x) => x);
  assert.ok(e instanceof CortexError);
  assert.equal(e.status, 0);
  assert.equal(calls, 1);
  calls = 0;
  await c.getSession("x").catch(() => {});
  assert.equal(calls, 5, "a read is retried (4 retries by default)");
});

/** A proxy in front of the server that answers 503 (Retry-After: 1) to the first `refuse` requests. */
async function refusingProxy(refuse, status = 503) {
  let refused = 0;
  const target = new URL(base);
  const srv = http.createServer((req, res) => {
    if (refused < refuse) {
      refused++;
      req.resume();
      res.writeHead(status, { "Content-Type": "application/problem+json", "Retry-After": "1" });
      res.end(JSON.stringify({ type: "urn:cortex:problem:unavailable", title: "Storage unavailable", status, detail: "busy" }));
      return;
    }
    const up = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    refused: () => refused,
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
  };
}

test("503 and 429 are retried after Retry-After; the retries are bounded", async () => {
  const p = await refusingProxy(2);
  try {
    const c = new Client({ baseUrl: p.url, token });
    const id = sid("busy");
    const t0 = Date.now();
    await c.putSession(id);
    assert.equal(p.refused(), 2);
    assert.ok(Date.now() - t0 >= 1900, "waited Retry-After (1 s) twice");
  } finally {
    await p.close();
  }
  const p2 = await refusingProxy(10, 429);
  try {
    const c = new Client({ baseUrl: p2.url, token, retries: 1, maxRetryDelayMs: 50 });
    const e = await c.getSession("x").catch((x) => x);
    assert.ok(e instanceof CortexError);
    assert.equal(e.status, 429);
    assert.equal(e.retryAfterMs, 1000);
    assert.equal(p2.refused(), 2, "one try and one retry");
  } finally {
    await p2.close();
  }
});

test("an abort ends the wait between retries", async () => {
  const p = await refusingProxy(100);
  try {
    const c = new Client({ baseUrl: p.url, token });
    const ac = new AbortController();
    const t0 = Date.now();
    const pending = c.getSession("x", { signal: ac.signal }).catch((x) => x);
    setTimeout(() => ac.abort(new Error("stop")), 100);
    const e = await pending;
    assert.equal(e.message, "stop");
    assert.ok(Date.now() - t0 < 900, "did not wait out Retry-After");
  } finally {
    await p.close();
  }
});

test("Retry-After is read as seconds or an HTTP date", () => {
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter(null), undefined);
  const d = parseRetryAfter(new Date(Date.now() + 5000).toUTCString());
  assert.ok(d > 3000 && d <= 5000);
});

test("listSessions pages through a metadata search", async () => {
  const c = client();
  const tag = sid("tag");
  for (let i = 0; i < 5; i++) {
    await c.putSession(sid("l"), { metadata: { run: tag, i, even: i % 2 === 0 } });
  }
  const all = [];
  for await (const s of c.listSessions({ metadata: { run: tag }, pageSize: 2 })) all.push(s);
  assert.equal(all.length, 5);
  assert.deepEqual(all.map((s) => s.metadata.i), [4, 3, 2, 1, 0], "newest-active first");
  const evens = [];
  for await (const s of c.listSessions({ metadata: { run: tag, even: true } })) evens.push(s.metadata.i);
  assert.deepEqual(evens, [4, 2, 0]);
  const page = await c.listSessionsPage({ metadata: { run: tag }, pageSize: 3 });
  assert.equal(page.items.length, 3);
  assert.ok(page.nextCursor);
  // A string that reads as a number is matched as the string.
  const sid2 = sid("str");
  await c.putSession(sid2, { metadata: { run: tag, code: "7" } });
  const codes = [];
  for await (const s of c.listSessions({ metadata: { run: tag, code: "7" } })) codes.push(s.id);
  assert.deepEqual(codes, [sid2]);
  const none = [];
  for await (const s of c.listSessions({ metadata: { run: tag, code: 7 } })) none.push(s.id);
  assert.deepEqual(none, []);
});

test("history pages newest first, with before, states and a metadata filter", async () => {
  const c = client();
  const id = sid("h");
  await c.putSession(id);
  for (let i = 1; i <= 7; i++) {
    await c.append(id, { i }, { metadata: { odd: i % 2 === 1 } });
  }
  const versions = [];
  for await (const s of c.history(id, { pageSize: 3 })) {
    assert.equal(s.state, undefined);
    versions.push(s.version);
  }
  assert.deepEqual(versions, [7, 6, 5, 4, 3, 2, 1]);
  const states = [];
  for await (const s of c.history(id, { before: 4, includeState: true })) states.push(s.state.i);
  assert.deepEqual(states, [3, 2, 1]);
  const odd = [];
  for await (const s of c.history(id, { metadata: { odd: true }, pageSize: 2 })) odd.push(s.version);
  assert.deepEqual(odd, [7, 5, 3, 1]);
});

test("fork copies the history up to a version", async () => {
  const c = client();
  const id = sid("f");
  await c.putSession(id);
  for (let i = 1; i <= 3; i++) await c.append(id, { i });
  const f = await c.fork(id, { newId: `${id}-b`, atVersion: 2 });
  assert.equal(f.version, 2);
  assert.deepEqual((await c.latest(`${id}-b`)).state, { i: 2 });
});

test("long poll answers a new version, or undefined when the wait passes", async () => {
  const c = client();
  const id = sid("lp");
  await c.putSession(id);
  assert.equal(await c.waitForVersion(id, 0, { waitSeconds: 1 }), undefined);
  const waiting = c.waitForVersion(id, 0, { waitSeconds: 30 });
  await c.append(id, { x: 1 });
  const got = await waiting;
  assert.equal(got.version, 1);
  assert.deepEqual(got.state, { x: 1 });
});

test("watch streams snapshots in order and ends on delete", async () => {
  const c = client();
  const id = sid("w");
  await c.putSession(id);
  await c.append(id, { i: 1 });
  const seen = [];
  let sessionEvents = 0;
  const done = (async () => {
    for await (const ev of c.watch(id, { afterVersion: 0, includeState: true })) {
      if (ev.type === "session") {
        sessionEvents++;
        if (sessionEvents === 1) {
          for (let i = 2; i <= 4; i++) await c.append(id, { i });
        }
      } else if (ev.type === "snapshot") {
        seen.push(ev.snapshot.state.i);
        if (seen.length === 4) await c.deleteSession(id);
      } else if (ev.type === "deleted") {
        return "deleted";
      }
    }
    return "ended";
  })();
  assert.equal(await done, "deleted");
  assert.deepEqual(seen, [1, 2, 3, 4]);
});

test("watch reopens a dropped stream from the last version: nothing lost, nothing twice", async () => {
  // A proxy that cuts every event stream after its first snapshot event.
  const target = new URL(base);
  let cuts = 0;
  const lastEventIds = [];
  const srv = http.createServer((req, res) => {
    if (req.url.includes("/events")) lastEventIds.push(req.headers["last-event-id"] ?? "");
    const up = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        res.on("close", () => ur.destroy());
        if (!req.url.includes("/events")) return ur.pipe(res);
        // Pass the stream through up to the end of its first snapshot
        // event, then close the connection.
        let text = "";
        let closed = false;
        ur.setEncoding("utf8");
        ur.on("data", (chunk) => {
          if (closed) return;
          text += chunk;
          const m = /event: snapshot\n(?:[^\n]+\n)*\n/.exec(text);
          if (!m) return;
          closed = true;
          res.end(text.slice(0, m.index + m[0].length));
          cuts++;
          ur.destroy();
        });
      },
    );
    req.pipe(up);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const c = new Client({ baseUrl: `http://127.0.0.1:${srv.address().port}`, token, retryBaseMs: 10 });
    const direct = client();
    const id = sid("wr");
    await direct.putSession(id);
    for (let i = 1; i <= 3; i++) await direct.append(id, { i });
    const versions = [];
    const ac = new AbortController();
    const e = await (async () => {
      for await (const ev of c.watch(id, { afterVersion: 0, signal: ac.signal })) {
        if (ev.type === "snapshot") versions.push(ev.snapshot.version);
        if (versions.length === 3) ac.abort(new Error("enough"));
      }
    })().catch((x) => x);
    assert.equal(e.message, "enough", JSON.stringify({ versions, lastEventIds, cuts }));
    assert.deepEqual(versions, [1, 2, 3]);
    assert.ok(cuts >= 3, `the stream was cut ${cuts} times`);
    assert.deepEqual(lastEventIds.slice(0, 3), ["0", "1", "2"]);
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

test("a watch from now, dropped before its first snapshot, resumes after the version it started at", async () => {
  // A proxy that closes the first event stream right after its session event.
  const target = new URL(base);
  let streams = 0;
  const srv = http.createServer((req, res) => {
    const isEvents = req.url.includes("/events");
    const first = isEvents && streams++ === 0;
    const up = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        res.on("close", () => ur.destroy());
        if (!first) return ur.pipe(res);
        let text = "";
        let closed = false;
        ur.setEncoding("utf8");
        ur.on("data", (chunk) => {
          if (closed) return;
          text += chunk;
          const m = /event: session\n(?:[^\n]+\n)*\n/.exec(text);
          if (!m) return;
          closed = true;
          res.end(text.slice(0, m.index + m[0].length));
          ur.destroy();
        });
      },
    );
    req.pipe(up);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const c = new Client({ baseUrl: `http://127.0.0.1:${srv.address().port}`, token, retryBaseMs: 10 });
    const direct = client();
    const id = sid("wn");
    await direct.putSession(id);
    await direct.append(id, { i: 1 });
    const versions = [];
    for await (const ev of c.watch(id)) {
      // While the generator waits here, its stream is already closed: the
      // append lands between the two streams.
      if (ev.type === "session" && streams === 1) await direct.append(id, { i: 2 });
      if (ev.type === "snapshot") {
        versions.push(ev.snapshot.version);
        break;
      }
    }
    assert.deepEqual(versions, [2], "the version appended between the streams, not the one before the watch");
    assert.equal(streams, 2);
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

test("a watch whose streams keep closing without progress gives up after its retries", async () => {
  // A proxy that closes every event stream right after its session event.
  const target = new URL(base);
  let streams = 0;
  const srv = http.createServer((req, res) => {
    if (req.url.includes("/events")) streams++;
    const up = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        res.on("close", () => ur.destroy());
        if (!req.url.includes("/events")) return ur.pipe(res);
        let text = "";
        ur.setEncoding("utf8");
        ur.on("data", (chunk) => {
          text += chunk;
          const m = /event: session\n(?:[^\n]+\n)*\n/.exec(text);
          if (m && !res.writableEnded) res.end(text.slice(0, m.index + m[0].length));
        });
      },
    );
    req.pipe(up);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const c = new Client({ baseUrl: `http://127.0.0.1:${srv.address().port}`, token, retries: 2, maxRetryDelayMs: 50 });
    const id = sid("wg");
    await client().putSession(id);
    let sessions = 0;
    const e = await (async () => {
      for await (const ev of c.watch(id)) if (ev.type === "session") sessions++;
    })().catch((x) => x);
    assert.ok(e instanceof CortexError, String(e));
    assert.equal(e.status, 0);
    assert.equal(streams, 3, "one stream and two reopenings");
    assert.equal(sessions, 3);
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

test("a watch of a missing session is a 404", async () => {
  const c = client();
  const it = c.watch(sid("nope"));
  const e = await it.next().catch((x) => x);
  assert.ok(e instanceof CortexError);
  assert.equal(e.status, 404);
});

test("the bearer token is required when the server has one", { skip: !token }, async () => {
  const c = new Client({ baseUrl: base });
  const e = await c.getSession("x").catch((x) => x);
  assert.ok(e instanceof CortexError);
  assert.equal(e.status, 401);
  assert.equal(e.slug, "unauthorized");
});
