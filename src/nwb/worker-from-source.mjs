// Starts the TypeScript worker under tsx; used only when rigd runs from source (tests, `tsx`),
// since Node 20 does not apply `--import tsx` to a worker's entry module.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.sourceWorker);
