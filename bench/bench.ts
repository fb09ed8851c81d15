// npm run bench: the NWB writer alone beside raw writes and h5py (writer-bench.ts), or with --e2e the real
// pipeline, a producer process feeding `rigd acquire` over ZeroMQ (e2e-bench.ts). Other flags go to either.
const e2e = process.argv.indexOf("--e2e");
if (e2e >= 0) {
  process.argv.splice(e2e, 1);
  await import("./e2e-bench.js");
} else {
  await import("./writer-bench.js");
}
