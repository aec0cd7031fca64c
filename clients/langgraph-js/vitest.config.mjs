import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // The client from its sources: the tests never read ../typescript/dist,
    // which the TypeScript client's own test may be rebuilding meanwhile.
    alias: { "@cortex-db/client": fileURLToPath(new URL("../typescript/src/index.ts", import.meta.url)) },
  },
  test: {
    include: ["test/**/*.test.ts"],
    globals: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
