// Worker threads, started the same way from dist/ (compiled JavaScript) and from src/ (TypeScript, in tests).
import { Worker } from "node:worker_threads";

/**
 * Starts the worker module `name` ("./worker.js") that sits beside the module whose import.meta.url is `base`.
 * From source it starts through tsx, importing `preload` (a package) natively first. Workers take their
 * settings in their first message, so they start alike either way.
 */
export function startWorker(base: string, name: string, preload?: string): Worker {
  if (!base.endsWith(".ts")) return new Worker(new URL(name, base));
  return new Worker(new URL("./worker-from-source.mjs", import.meta.url), {
    workerData: { sourceWorker: new URL(name.replace(/\.js$/, ".ts"), base).href, preload },
  });
}
