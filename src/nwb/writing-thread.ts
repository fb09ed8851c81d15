// The thread that does the runs of writes direct-writes.ts queues, one at a time and in the order queued. It
// blocks in write() while the device takes the bytes, so the writer's thread does not. After a run fails it does
// no more: the runs queued after it are skipped, so the file stays what a prefix of them made it.
import { parentPort } from "node:worker_threads";
import { Control, Descriptor, ENTRY, ERROR_AT, split, type WritingThreadData, writeAll } from "./direct-writes.js";

if (!parentPort) throw new Error("writing-thread.ts runs as a worker thread of direct-writes.ts");

parentPort.once("message", ({ control, queue, ring, fds }: WritingThreadData) => {
  const ctl = new Int32Array(control);
  const entries = new Float64Array(queue);
  const bytes = new Uint8Array(ring);
  const slots = entries.length / ENTRY;
  parentPort!.postMessage("running");
  parentPort!.close(); // nothing more comes by message: the thread ends when its loop does
  for (let n = 0; ; n++) {
    for (let queued; (queued = Atomics.load(ctl, Control.Submitted)) <= n; ) {
      if (Atomics.load(ctl, Control.Stop)) return;
      Atomics.wait(ctl, Control.Submitted, queued);
    }
    if (Atomics.load(ctl, Control.Failed) === 0) {
      const e = (n % slots) * ENTRY;
      const at = entries[e]!;
      const length = entries[e + 1]!;
      const position = entries[e + 2]!;
      const { head, body } = split(position, length);
      let direct = false;
      try {
        writeAll(fds[Descriptor.Cached], bytes, at, head, position);
        direct = true;
        writeAll(fds[Descriptor.Direct], bytes, at + head, body, position + head);
        direct = false;
        writeAll(fds[Descriptor.Cached], bytes, at + head + body, length - head - body, position + head + body);
      } catch (err) {
        const { code, message } = err as NodeJS.ErrnoException;
        const said = new TextEncoder().encode(JSON.stringify({ code, message: String(message).slice(0, 300), direct }));
        new Uint8Array(control, ERROR_AT).set(said);
        Atomics.store(ctl, Control.ErrorBytes, said.length);
        Atomics.store(ctl, Control.Failed, n + 1);
      }
    }
    Atomics.store(ctl, Control.Done, n + 1);
    Atomics.notify(ctl, Control.Done);
  }
});
