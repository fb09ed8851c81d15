import { configDefaults, defineConfig } from "vitest/config";

// Tests that check timing against the frames (a shutter closed mid-recording must show in the event record
// and telemetry within one frame), the daemon's answer times, and a recording beside CPU hogs of its own run
// after all others, one file at a time: on the two-core CI machine, two recordings running beside them starve
// the simulators' serial round trips, which measures the test machine rather than rigd.
const timing = ["test/acquisition/session.test.ts", "test/cli/serve.test.ts", "test/cli/serve-control.test.ts", "test/acquisition/recording-under-load.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests write real HDF5 files and spawn worker threads and child processes; two cores is the CI machine.
    pool: "forks",
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "rigd", include: ["test/**/*.test.ts"], exclude: [...configDefaults.exclude, ...timing], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "timing", include: timing, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
