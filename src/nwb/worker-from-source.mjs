// Starts the TypeScript worker under tsx; used only when rigd runs from source (tests, `tsx`),
// since Node 20 does not apply `--import tsx` to a worker's entry module. h5wasm is loaded first,
// natively: through tsx's loader its 3 MB bundle takes seconds and hundreds of MB to load.
import { workerData } from "node:worker_threads";
import "h5wasm/node";
import { register } from "tsx/esm/api";

register();
await import(workerData.sourceWorker);
