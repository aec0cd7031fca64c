// Real LangGraph graphs persisted in cortex through CortexSaver: what the
// validation suite does not reach (a run resumed by another saver, parallel
// tasks writing at once, interrupts and their resume, time travel).
import { Annotation, Command, END, START, StateGraph, interrupt } from "@langchain/langgraph";
import { Client } from "@cortex-db/client";
import { CortexSaver } from "../src/index.js";

const baseUrl = process.env.CORTEX_URL!;
const token = process.env.CORTEX_TOKEN;
const prefix = `gt-${globalThis.crypto.randomUUID().slice(0, 8)}.`;
const saver = () => new CortexSaver({ baseUrl, token, prefix });

afterAll(async () => {
  await saver().deleteAll();
});

const State = Annotation.Root({
  messages: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  count: Annotation<number>({ reducer: (_, b) => b, default: () => 0 }),
});

function counter(checkpointer: CortexSaver) {
  return new StateGraph(State)
    .addNode("greet", (s) => ({ messages: [`hello #${s.count + 1}`], count: s.count + 1 }))
    .addEdge(START, "greet")
    .addEdge("greet", END)
    .compile({ checkpointer });
}

test("a thread is resumed by another saver (another process) from cortex", async () => {
  const config = { configurable: { thread_id: "chat-1" } };
  await counter(saver()).invoke({ messages: ["hi"] }, config);
  const out = await counter(saver()).invoke({ messages: ["again"] }, config);
  expect(out).toEqual({ messages: ["hi", "hello #1", "again", "hello #2"], count: 2 });
  // The thread is a pair of cortex sessions found by metadata.
  const c = new Client({ baseUrl, token });
  const sessions = [];
  for await (const s of c.listSessions({ metadata: { lg_prefix: prefix, lg_thread: "chat-1" } })) sessions.push(s.metadata.lg_role);
  expect(sessions.sort()).toEqual(["checkpoints", "data"]);
  const history = [];
  for await (const t of saver().list(config)) history.push(t.metadata?.step);
  expect(history).toEqual([4, 3, 2, 1, 0, -1]);
});

test("parallel tasks write at once, and every write is kept", async () => {
  const Fan = Annotation.Root({
    got: Annotation<string[]>({ reducer: (a, b) => a.concat(b).sort(), default: () => [] }),
  });
  const g = new StateGraph(Fan);
  const names = ["a", "b", "c", "d", "e", "f"];
  for (const n of names) {
    g.addNode(n, async () => ({ got: [n] }));
    g.addEdge(START, n as any);
    g.addEdge(n as any, END);
  }
  const graph = g.compile({ checkpointer: saver() });
  const config = { configurable: { thread_id: "fan-1" } };
  const out = await graph.invoke({ got: [] }, config);
  expect(out.got).toEqual(names);
  const state = await g.compile({ checkpointer: saver() }).getState(config);
  expect(state.values.got).toEqual(names);
});

test("an interrupt is kept and a resume from another saver finishes the run", async () => {
  const build = (cp: CortexSaver) =>
    new StateGraph(State)
      .addNode("ask", () => {
        const answer = interrupt("name?") as string;
        return { messages: [`hi ${answer}`] };
      })
      .addEdge(START, "ask")
      .addEdge("ask", END)
      .compile({ checkpointer: cp });
  const config = { configurable: { thread_id: "hitl-1" } };
  await build(saver()).invoke({ messages: ["start"] }, config);
  const paused = await build(saver()).getState(config);
  expect(paused.next).toEqual(["ask"]);
  expect(paused.tasks[0].interrupts[0].value).toBe("name?");
  const out = await build(saver()).invoke(new Command({ resume: "ada" }), config);
  expect(out.messages).toEqual(["start", "hi ada"]);
});

test("time travel: a run forked from an older checkpoint keeps both branches", async () => {
  const cp = saver();
  const graph = counter(cp);
  const config = { configurable: { thread_id: "travel-1" } };
  await graph.invoke({ messages: ["one"] }, config);
  await graph.invoke({ messages: ["two"] }, config);
  const history = [];
  for await (const s of graph.getStateHistory(config)) history.push(s);
  // The checkpoint after the first run: fork it with a different input.
  const afterFirst = history.find((s) => s.values.count === 1 && s.next.length === 0)!;
  // Two forks of the same checkpoint: their channels reach the same
  // counter with different values (CortexSaver's versions differ).
  for (const other of ["other", "else"]) {
    const forked = await graph.updateState(afterFirst.config, { messages: [other] });
    const out = await graph.invoke(null, forked);
    expect(out.messages).toEqual(["one", "hello #1", other]);
  }
  // The original branch is intact.
  const main = await graph.getState({ configurable: { thread_id: "travel-1", checkpoint_id: history[0].config.configurable!.checkpoint_id } });
  expect(main.values).toEqual({ messages: ["one", "hello #1", "two", "hello #2"], count: 2 });
});

test("deleteThread removes the thread's sessions and nothing else", async () => {
  const cp = saver();
  await counter(cp).invoke({ messages: ["x"] }, { configurable: { thread_id: "del-1" } });
  await counter(cp).invoke({ messages: ["y"] }, { configurable: { thread_id: "del-2" } });
  await cp.deleteThread("del-1");
  expect(await cp.getTuple({ configurable: { thread_id: "del-1" } })).toBeUndefined();
  expect(await cp.getTuple({ configurable: { thread_id: "del-2" } })).toBeDefined();
  // Putting to a deleted thread again starts it afresh.
  const out = await counter(cp).invoke({ messages: ["z"] }, { configurable: { thread_id: "del-1" } });
  expect(out.count).toBe(1);
});

test("thread ids and namespaces of any characters", async () => {
  const cp = saver();
  const weird = "user/42 · ünïcode & spaces";
  await counter(cp).invoke({ messages: ["w"] }, { configurable: { thread_id: weird } });
  const t = await cp.getTuple({ configurable: { thread_id: weird } });
  expect(t?.config.configurable?.thread_id).toBe(weird);
  expect(t?.checkpoint.channel_values).toMatchObject({ count: 1 });
  const listed = [];
  for await (const x of cp.list({ configurable: { thread_id: weird } }, { limit: 2 })) listed.push(x);
  expect(listed).toHaveLength(2);
});

test("a thread deleted and run again by another saver is read afresh here", async () => {
  const a = saver();
  const b = saver();
  const config = { configurable: { thread_id: "again-1" } };
  await counter(a).invoke({ messages: ["first"] }, config);
  await counter(a).invoke({ messages: ["second"] }, config);
  expect((await counter(a).getState(config)).values.count).toBe(2);
  await b.deleteThread("again-1");
  await counter(b).invoke({ messages: ["other"] }, config);
  // a's cached sessions and values are of the deleted thread.
  expect((await counter(a).getState(config)).values).toEqual({ messages: ["other", "hello #1"], count: 1 });
  const out = await counter(a).invoke({ messages: ["more"] }, config);
  expect(out).toEqual({ messages: ["other", "hello #1", "more", "hello #2"], count: 2 });
});
