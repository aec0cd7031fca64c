// Throughput of `put` (a checkpoint and its changed channel values) of
// CortexSaver against LangGraph's MemorySaver and SqliteSaver, in one run.
//
//   cortex serve --db /tmp/bench.db --addr 127.0.0.1:8090 &
//   CORTEX_URL=http://127.0.0.1:8090 npm run bench            # after npm run build
//
// Each saver gets the same work: THREADS threads (default 1 and 16, one
// sequential writer each), PUTS puts per thread, each a checkpoint chained
// to the previous one with 3 channels, 2 of which change (a message list of
// ~MSG_BYTES (default 200) bytes per message, growing, and a counter).
// Rounds alternate the savers (A/B/C, ROUNDS times) so machine noise hits
// all alike; the median of the rounds is reported.
import { MemorySaver, emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CortexSaver } from "../dist/index.js";

const base = process.env.CORTEX_URL;
if (!base) throw new Error("CORTEX_URL is not set: start cortex serve and point CORTEX_URL at it");
const puts = Number(process.env.PUTS ?? 200);
const rounds = Number(process.env.ROUNDS ?? 3);
const msgBytes = Number(process.env.MSG_BYTES ?? 200);
const threadCounts = (process.env.THREADS ?? "1,16").split(",").map(Number);

let SqliteSaver;
try {
  ({ SqliteSaver } = await import("@langchain/langgraph-checkpoint-sqlite"));
} catch (e) {
  console.error(`SqliteSaver not installed (npm install --no-save @langchain/langgraph-checkpoint-sqlite@1.0.4 better-sqlite3@~12.10.0 in clients/langgraph-js): ${e.message}`);
}

const dir = mkdtempSync(join(tmpdir(), "lg-bench-"));
const run = Date.now().toString(36);

/** One thread's puts, each chained to the one before. */
async function thread(saver, threadId) {
  let config = { configurable: { thread_id: threadId, checkpoint_ns: "" } };
  const messages = [];
  let prev = emptyCheckpoint();
  for (let i = 0; i < puts; i++) {
    messages.push({ role: i % 2 ? "ai" : "human", content: "x".repeat(msgBytes) });
    const v = i + 2;
    const cp = {
      ...prev,
      id: uuid6(-1),
      ts: new Date().toISOString(),
      channel_values: { messages: [...messages], step: i, config: { model: "m", temperature: 0 } },
      channel_versions: { messages: v, step: v, config: 1 },
      versions_seen: { agent: { messages: v - 1 } },
    };
    config = await saver.put(config, cp, { source: "loop", step: i, parents: {} }, i === 0 ? { messages: v, step: v, config: 1 } : { messages: v, step: v });
    prev = cp;
  }
}

async function measure(name, make, threads) {
  const saver = make();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: threads }, (_, i) => thread(saver, `b-${run}-${name}-${threads}-${i}-${Math.random()}`)));
  const s = (performance.now() - t0) / 1000;
  return (threads * puts) / s;
}

const savers = [
  ["CortexSaver", () => new CortexSaver({ baseUrl: base, token: process.env.CORTEX_TOKEN, prefix: `bench-${run}.` })],
  ["MemorySaver", () => new MemorySaver()],
];
if (SqliteSaver) {
  let n = 0;
  savers.push(["SqliteSaver", () => SqliteSaver.fromConnString(join(dir, `s${n++}.db`))]);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`put throughput: ${puts} puts per thread, ${rounds} rounds, messages of ${msgBytes} bytes, node ${process.version}`);
for (const threads of threadCounts) {
  const got = Object.fromEntries(savers.map(([n]) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, make] of savers) got[name].push(await measure(name, make, threads));
  }
  for (const [name] of savers) {
    const m = median(got[name]);
    console.log(`threads=${threads}\t${name}\t${m.toFixed(0)} puts/s\t(rounds: ${got[name].map((x) => x.toFixed(0)).join(", ")})`);
  }
}
await new CortexSaver({ baseUrl: base, token: process.env.CORTEX_TOKEN, prefix: `bench-${run}.` }).deleteAll();
rmSync(dir, { recursive: true, force: true });
