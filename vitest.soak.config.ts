import { defineConfig } from "vitest/config";

// Long runs kept out of `npm test`: `npm run soak`.
export default defineConfig({
  test: {
    include: ["test/soak/**/*.soak.ts"],
    testTimeout: 30 * 60_000,
    pool: "forks",
  },
});
