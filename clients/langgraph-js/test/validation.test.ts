// LangGraph's checkpointer conformance suite, unmodified, through its
// documented library route (its CLI is broken in 1.1.1).
import { validate } from "@langchain/langgraph-checkpoint-validation";
import initializer from "./cortex.initializer.js";

validate(initializer);
