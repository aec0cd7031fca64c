// The checkpointer initializer of LangGraph's validation suite
// (@langchain/langgraph-checkpoint-validation): a CortexSaver for the server
// at CORTEX_URL (token CORTEX_TOKEN). Each checkpointer gets its own random
// session prefix, so instances never see each other's threads, and its
// sessions are deleted when the suite destroys it.
import type { CheckpointerTestInitializer } from "@langchain/langgraph-checkpoint-validation";
import { CortexSaver } from "../src/index.js";

const baseUrl = process.env.CORTEX_URL;
if (!baseUrl) throw new Error("CORTEX_URL is not set: point it at a cortex serve (clients/langgraph-js/langgraph_test.go does)");

const initializer: CheckpointerTestInitializer<CortexSaver> = {
  checkpointerName: "@cortex-db/langgraph-checkpoint",
  createCheckpointer() {
    const id = globalThis.crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    return new CortexSaver({ baseUrl, token: process.env.CORTEX_TOKEN, prefix: `vt-${id}.` });
  },
  async destroyCheckpointer(saver: CortexSaver) {
    await saver.deleteAll();
  },
};

export default initializer;
