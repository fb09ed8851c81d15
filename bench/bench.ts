// npm run bench: the NWB writer alone beside raw writes and h5py (writer-bench.ts), or with --e2e the real
// pipeline, a producer process feeding `rigd acquire` over ZeroMQ (e2e-bench.ts), or with --analysis the online
// analysis on sim-2p frames (analysis-bench.ts). Other flags go to the one run.
const e2e = process.argv.indexOf("--e2e");
const analysis = process.argv.indexOf("--analysis");
if (analysis >= 0) {
  process.argv.splice(analysis, 1);
  await import("./analysis-bench.js");
} else if (e2e >= 0) {
  process.argv.splice(e2e, 1);
  await import("./e2e-bench.js");
} else {
  await import("./writer-bench.js");
}
