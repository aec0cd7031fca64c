// The validation package's opt-in conformance tests of getDeltaChannelHistory
// (Beta; not part of validate()'s 718), which CortexSaver passes through the
// base class's walk over getTuple and parentConfig.
import { deltaChannelHistoryTests } from "@langchain/langgraph-checkpoint-validation";
import initializer from "./cortex.initializer.js";

deltaChannelHistoryTests(initializer);
