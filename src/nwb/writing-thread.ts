// The thread that does the writes direct-writes.ts queues, one at a time and in the order queued. It blocks
// in write() while the device takes the bytes, so the writer's thread does not. After a write fails it does
// no more: the writes queued after it are skipped, so the file stays what a prefix of them made it.
import { parentPort } from "node:worker_threads";
import { Control, ENTRY, ERROR_AT, type WritingThreadData, writeAll } from "./direct-writes.js";

if (!parentPort) throw new Error("writing-thread.ts runs as a worker thread of direct-writes.ts");

parentPort.once("message", ({ control, queue, ring, fds }: WritingThreadData) => {
  const ctl = new Int32Array(control);
  const entries = new Float64Array(queue);
  const bytes = new Uint8Array(ring);
  const slots = entries.length / ENTRY;
  Atomics.store(ctl, Control.Ready, 1);
  parentPort!.postMessage("running");
  parentPort!.close(); // nothing more comes by message: the thread ends when its loop does
  for (let next = 0; ; next = (next + 1) | 0) {
    while (Atomics.load(ctl, Control.Submitted) === next) {
      if (Atomics.load(ctl, Control.Stop)) return;
      Atomics.wait(ctl, Control.Submitted, next);
    }
    if (Atomics.load(ctl, Control.Failed) === 0) {
      const e = (next & (slots - 1)) * ENTRY;
      try {
        writeAll(fds[entries[e + 3]!]!, bytes, entries[e]!, entries[e + 1]!, entries[e + 2]!);
      } catch (err) {
        const { code, message } = err as NodeJS.ErrnoException;
        const said = new TextEncoder().encode(JSON.stringify({ code, message: String(message).slice(0, 300) }));
        new Uint8Array(control, ERROR_AT).set(said);
        Atomics.store(ctl, Control.ErrorBytes, said.length);
        Atomics.store(ctl, Control.Failed, (next + 1) | 0);
      }
    }
    Atomics.store(ctl, Control.Done, (next + 1) | 0);
    Atomics.notify(ctl, Control.Done);
  }
});
