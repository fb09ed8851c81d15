import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests write real HDF5 files and spawn worker threads and child processes; two cores is the CI machine.
    pool: "forks",
    maxWorkers: 2,
  },
});
