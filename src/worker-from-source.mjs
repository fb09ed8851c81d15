// Starts a TypeScript worker under tsx; used only when rigd runs from source (tests, `tsx`), since Node 20
// does not apply `--import tsx` to a worker's entry module. `preload` is imported first, natively: h5wasm's
// 3 MB bundle takes seconds and hundreds of MB to load through tsx's loader.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

if (workerData.preload) await import(workerData.preload);
register();
await import(workerData.sourceWorker);
