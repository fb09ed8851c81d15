// Frame data written around the page cache (O_DIRECT), by a thread of its own. A recording writes each byte
// once and does not read it back while it records; through the page cache each page is first allocated, then
// copied into, then written back, and stays cached, crowding out what the machine does need. Measured on the
// 2-core VM this project is built on (ext4 on virtio), 8 MiB through the page cache took 13–20 ms of CPU —
// freshly used memory is faulted in by the host — against 0.12 ms with O_DIRECT, at 2.2 GB/s (README, Throughput).
// A direct write returns only once the device has the bytes, so it is handed to a second thread: the writer's
// thread goes on with HDF5 meanwhile (at 512² frames it had spent 59 % of its time waiting in write()).
//
// HDF5 (h5wasm's NODERAWFS) writes with Node's fs.writeSync on a descriptor of its own. For the one file being
// recorded, this wraps the fs calls NODERAWFS makes in the writer's thread. A large write (≥ MIN_DIRECT_BYTES)
// is copied into a shared ring, joined to the run of writes before it if it continues them in the file, and the
// run queued: its whole 4096-byte pages are written through a descriptor opened O_DIRECT, the part pages at
// either end through one through the page cache (a direct write needs aligned offsets, lengths and memory).
// Every other call on the file — a small write (HDF5's metadata), fstat, ftruncate, close, a read of a range
// still queued — first waits until the queue is empty. So the file is always what a prefix of HDF5's writes, in
// HDF5's order, made it: a crash leaves what it would have left had the writes not been queued, only earlier.
// Metadata that points at frame data is never in the file before that data. (A second writing thread gained
// nothing: ext4 takes direct writes that extend a file one at a time.) Linux keeps the two descriptors
// coherent (a direct write writes back and drops any cached page it covers), and fsync covers both; the file's
// owner calls settle() before each fsync. A file system that refuses O_DIRECT (EINVAL) is written as before.
//
// A queued run that fails (ENOSPC, EIO) stops the queue: it and the runs queued after it are kept, the
// error is thrown from the next call on the file (HDF5 then fails), and the kept writes are retried through the
// page cache, in order, before any later call — so a file cut back and closed after the failure (NwbFile.abandon)
// is written over what HDF5 believes it holds.
import fs from "node:fs";
import { resolve } from "node:path";
import { copyBytes } from "../frame-slots.js";
import { startWorker } from "../threads.js";

/** Alignment of a direct write's file offset, length and memory: the largest logical block size in use. */
const PAGE = 4096;
/** WebAssembly's Memory (the project's libs, ES2022 without the DOM's, do not declare it). */
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: true }) => { buffer: SharedArrayBuffer } } }).WebAssembly;
/** Writes smaller than this gain nothing from going direct (HDF5's metadata, small chunks). */
const MIN_DIRECT_BYTES = 256 * 1024;
/**
 * Writes that follow each other in the file are queued as one run of at most this (a 2048² uint16 frame): HDF5
 * writes a batch of 512² frames as one 512 KiB chunk after another, and a disk that takes one write at a time
 * took 8 MiB writes two to three times faster than 512 KiB ones (README, Throughput).
 */
const RUN_BYTES = 8 * 2 ** 20;
/**
 * Bytes queued at most: two runs and change, so one is written while the next fills.
 * A frame counts as written (NwbWriter's latency) once queued: it reaches the OS at most ~9 ms later at 2 GB/s.
 */
const RING_BYTES = 2 * RUN_BYTES + 2 ** 20;
/** Runs queued at most. */
const QUEUE = 256;
/** A queue entry: the run's offset in the ring, its length, and its position in the file. */
export const ENTRY = 3;
export const Descriptor = { Cached: 0, Direct: 1 } as const;
/** The control words shared with the writing thread (Int32Array indices). Counts never wrap: 2^31 runs is 512 TiB. */
export const Control = {
  /** Runs queued, and runs done (failed or skipped ones too). */
  Submitted: 0,
  Done: 1,
  /** 0, or 1 + the number of the run that failed: it and every run after it were skipped. */
  Failed: 2,
  /** Set when the file is closed: the thread ends. */
  Stop: 3,
  /** Bytes of the failure's { code, message, direct } (UTF-8 JSON) from ERROR_AT on. */
  ErrorBytes: 4,
} as const;
export const CONTROL_WORDS = 8;
export const ERROR_AT = CONTROL_WORDS * 4;
const CONTROL_BYTES = ERROR_AT + 2048; // a message of 300 characters, as JSON in UTF-8

/** What the writing thread is given, as its first message. */
export interface WritingThreadData {
  control: SharedArrayBuffer;
  queue: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  /** [Descriptor.Cached, Descriptor.Direct]: descriptors are the process's, shared by its threads. */
  fds: [number, number];
}

/**
 * How a run of `length` bytes at `position` is written: `head` bytes up to the first page boundary and the
 * part page at its end through the page cache, the `body` of whole pages between them direct.
 */
export function split(position: number, length: number): { head: number; body: number } {
  const head = Math.min(length, (PAGE - (position % PAGE)) % PAGE);
  return { head, body: Math.floor((length - head) / PAGE) * PAGE };
}

/** How one watched file is being written. */
export interface DirectWrites {
  /** Bytes written around the page cache so far. */
  directBytes: number;
  /** Why writes go through the page cache instead (the file system refused O_DIRECT), if they do. */
  refused?: string;
  /**
   * Resolves once large writes are queued to the writing thread, or will never be (the file system refused
   * O_DIRECT, or the thread could not start: `refused` says why). Until then they go through the page cache.
   */
  running(): Promise<void>;
  /**
   * Waits until every write queued for the file is done: call before an fsync of the file through another
   * descriptor. Throws the error of a write that failed (a Node system error: code ENOSPC, EIO…); the writes
   * it stopped are retried by the next call on the file, which throws again while they still fail.
   */
  settle(): void;
}

/** A run that failed or was skipped after a failure: its bytes, copied out of the ring. */
interface Kept {
  bytes: Uint8Array;
  position: number;
}

/** The queue and the thread that empties it. */
class WritingThread {
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES));
  private readonly queue = new Float64Array(new SharedArrayBuffer(QUEUE * ENTRY * 8));
  /** A WebAssembly memory's bytes are page-aligned (a plain ArrayBuffer's are not), as a direct write needs. */
  private readonly ring = new Uint8Array(new Memory({ initial: RING_BYTES / 65536, maximum: RING_BYTES / 65536, shared: true }).buffer);
  private submitted = 0;
  /** The end of the ring's bytes in use (page-aligned): where the next run's go, or the open run's grow. */
  private head = 0;
  /**
   * The run being gathered, not yet queued: its bytes sit in the ring from `at`, in the same place within a
   * page as in the file, so its whole pages can be written direct from there.
   */
  private run?: { at: number; position: number; length: number };
  /** Resolves when the thread runs, with why not if it could not start. */
  readonly started: Promise<string | undefined>;
  /** Whether it runs: until then writes are not queued (starting it takes 60 ms from dist/, 1–2 s under tsx). */
  ready = false;

  constructor(
    fds: [number, number],
    /** Counts the bytes queued to be written direct. */
    private readonly counts: { directBytes: number },
  ) {
    const worker = startWorker(import.meta.url, "./writing-thread.js");
    worker.postMessage({ control: this.control.buffer as SharedArrayBuffer, queue: this.queue.buffer as SharedArrayBuffer, ring: this.ring.buffer as SharedArrayBuffer, fds } satisfies WritingThreadData);
    this.started = new Promise((resolve) => {
      worker.once("message", () => {
        worker.unref(); // a process that exits without closing the file leaves it as a crash would
        this.ready = true;
        resolve(undefined);
      });
      worker.once("error", (e) => resolve(`the writing thread failed to start (${e.message})`));
      worker.once("exit", (code) => resolve(`the writing thread exited (${code}) before it ran`));
    });
  }

  /** Adds `length` (at most RUN_BYTES) bytes of `bytes` from `offset`, to be written at `position`: to the open run if they follow it. */
  add(bytes: Uint8Array, offset: number, length: number, position: number): void {
    const r = this.run;
    if (r && position === r.position + r.length && r.length + length <= RUN_BYTES) {
      const end = Math.ceil((r.at + r.length + length) / PAGE) * PAGE;
      if (end - this.head <= this.roomAfterHead()) {
        copyBytes(this.ring, bytes.subarray(offset, offset + length), r.at + r.length);
        r.length += length;
        this.head = end;
        return;
      }
    }
    this.submit();
    const phase = position % PAGE;
    const at = this.reserve(Math.ceil((phase + length) / PAGE) * PAGE) + phase;
    copyBytes(this.ring, bytes.subarray(offset, offset + length), at);
    this.run = { at, position, length };
  }

  /** Queues the open run, if there is one. */
  submit(): void {
    const r = this.run;
    if (!r) return;
    this.run = undefined;
    const e = (this.submitted % QUEUE) * ENTRY;
    this.queue[e] = r.at;
    this.queue[e + 1] = r.length;
    this.queue[e + 2] = r.position;
    this.counts.directBytes += split(r.position, r.length).body;
    Atomics.store(this.control, Control.Submitted, ++this.submitted);
    Atomics.notify(this.control, Control.Submitted);
  }

  private done(): number {
    return Atomics.load(this.control, Control.Done);
  }

  /** Waits until `ready()` holds, woken each time the thread finishes a run. */
  private waitFor(ready: () => boolean): void {
    for (;;) {
      const done = this.done();
      if (ready()) return;
      Atomics.wait(this.control, Control.Done, done);
    }
  }

  /** Where the oldest run not done begins in the ring (page-aligned), if any is queued. */
  private tail(): number | undefined {
    const done = this.done();
    return done === this.submitted ? undefined : Math.floor(this.queue[(done % QUEUE) * ENTRY]! / PAGE) * PAGE;
  }

  /** Free bytes right after the head, where the open run can grow without wrapping. */
  private roomAfterHead(): number {
    const tail = this.tail();
    return tail === undefined || tail < this.head ? RING_BYTES - this.head : tail - this.head;
  }

  /** Room in the ring for `bytes` (no run open), once the runs before have freed it. */
  private reserve(bytes: number): number {
    let at = 0;
    this.waitFor(() => {
      const tail = this.tail();
      if (tail === undefined) at = 0;
      else if (this.submitted - this.done() >= QUEUE) return false;
      else if (this.head > tail && RING_BYTES - this.head >= bytes) at = this.head;
      else if (this.head > tail && tail >= bytes) at = 0;
      else if (this.head < tail && tail - this.head >= bytes) at = this.head;
      else return false;
      return true;
    });
    this.head = at + bytes;
    return at;
  }

  get failed(): boolean {
    return Atomics.load(this.control, Control.Failed) !== 0;
  }

  /** Whether a queued run not done covers any of [position, position + length). */
  private queuedOver(position: number, length: number): boolean {
    for (let n = this.done(); n < this.submitted; n++) {
      const e = (n % QUEUE) * ENTRY;
      if (this.queue[e + 2]! < position + length && position < this.queue[e + 2]! + this.queue[e + 1]!) return true;
    }
    return false;
  }

  /** Whether a run queued or open covers any of [position, position + length). */
  covers(position: number, length: number): boolean {
    const r = this.run;
    return (r !== undefined && r.position < position + length && position < r.position + r.length) || this.queuedOver(position, length);
  }

  /**
   * Queues the open run and waits until every run is done. If one failed: its error, whether its direct part
   * failed, and the runs it stopped (it and those after it).
   */
  drain(): { error: NodeJS.ErrnoException; direct: boolean; kept: Kept[] } | undefined {
    this.submit();
    this.waitFor(() => this.done() === this.submitted);
    const failed = Atomics.load(this.control, Control.Failed);
    if (failed === 0) return undefined;
    const said = new TextDecoder().decode(new Uint8Array(this.control.buffer, ERROR_AT, this.control[Control.ErrorBytes]).slice());
    const { code, message, direct } = JSON.parse(said) as { code?: string; message: string; direct: boolean };
    const kept: Kept[] = [];
    for (let n = failed - 1; n < this.submitted; n++) {
      const e = (n % QUEUE) * ENTRY;
      kept.push({ bytes: this.ring.slice(this.queue[e]!, this.queue[e]! + this.queue[e + 1]!), position: this.queue[e + 2]! });
    }
    return { error: Object.assign(new Error(message), { code: code ?? "EIO", syscall: "write" }), direct, kept };
  }

  /** Ends the thread (after drain()). */
  stop(): void {
    Atomics.store(this.control, Control.Stop, 1);
    Atomics.notify(this.control, Control.Submitted);
  }
}

class Watch implements DirectWrites {
  directBytes = 0;
  refused?: string;
  readonly fds = new Set<number>();
  /** This watch's own descriptors: one through the page cache, one around it. */
  private own?: [number, number];
  private thread?: WritingThread;
  /** Writes a failure stopped, to be done (through the page cache, in order) before anything else. */
  private owed: Kept[] = [];

  constructor(readonly path: string) {}

  open(): void {
    if (this.own || this.refused) return;
    if (fs.constants.O_DIRECT === undefined) {
      this.refused = "this system has no O_DIRECT";
      return;
    }
    const cached = original.openSync(this.path, fs.constants.O_WRONLY);
    try {
      this.own = [cached, original.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_DIRECT)];
    } catch (e) {
      original.closeSync(cached);
      this.refused = `the file system refused O_DIRECT (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      return;
    }
    this.thread = new WritingThread(this.own, this);
  }

  async running(): Promise<void> {
    const why = await this.thread?.started;
    if (why && !this.refused) this.refused = why;
  }

  /** After the file's last descriptor closed: the queue emptied, the thread ended, its descriptors closed. */
  close(): void {
    try {
      this.settle();
    } finally {
      this.thread?.stop();
      this.thread = undefined;
      if (this.own) for (const fd of this.own) original.closeSync(fd);
      this.own = undefined;
      this.owed = []; // if settle() threw, its error said these were not written
    }
  }

  settle(): void {
    const failed = this.thread?.drain();
    if (failed) {
      this.thread!.stop();
      this.thread = undefined; // from now on, every write through the page cache
      for (const k of failed.kept) this.directBytes -= split(k.position, k.bytes.byteLength).body;
      this.owed = failed.kept;
      // A file system that takes the flag but not these writes: they are done through the page cache instead.
      if (failed.error.code === "EINVAL" && failed.direct) this.refused = "the file system refused a direct write (EINVAL)";
      else throw failed.error;
    }
    while (this.owed.length) {
      const { bytes, position } = this.owed[0]!;
      writeAll(this.own![Descriptor.Cached], bytes, 0, bytes.byteLength, position);
      this.owed.shift();
    }
  }

  /** Before a call that reads [position, position + length) of the file: settled if any of it is still queued. */
  beforeRead(position: number, length: number): void {
    if (this.thread?.failed || this.owed.length || this.thread?.covers(position, length)) this.settle();
  }

  /** Writes `length` bytes of `bytes` from `offset` at `position`: queued if large, at once (after the queue) if not. */
  write(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number {
    // Until the thread runs, the writer's thread would wait for it once the ring is full: a stall of up to 2 s.
    if (!this.thread || this.thread.failed || !this.thread.ready || length < MIN_DIRECT_BYTES) {
      this.settle();
      return writeAll(fd, bytes, offset, length, position);
    }
    for (let done = 0; done < length; ) {
      const piece = Math.min(length - done, RUN_BYTES);
      this.thread.add(bytes, offset + done, piece, position + done);
      done += piece;
    }
    return length;
  }
}

/** Writes all `length` bytes (a write may take fewer; for a regular file only when the disk is failing). */
export function writeAll(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) done += original.writeSync(fd, bytes, offset + done, length - done, position + done);
  return length;
}

const original = {
  openSync: fs.openSync,
  writeSync: fs.writeSync,
  readSync: fs.readSync,
  closeSync: fs.closeSync,
  fstatSync: fs.fstatSync,
  ftruncateSync: fs.ftruncateSync,
  fsyncSync: fs.fsyncSync,
  fdatasyncSync: fs.fdatasyncSync,
};
const watched = new Map<string, Watch>();
const byFd = new Map<number, Watch>();
let installed = false;

const writable = (flags: unknown) =>
  typeof flags === "number" ? (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR)) !== 0 : typeof flags === "string" && /[wa+]/.test(flags);

/** `call` on a descriptor: for one of a watched file's, after its queue is empty. */
function settled<F extends (fd: number, ...rest: never[]) => unknown>(call: F): F {
  return function (this: unknown, fd: number, ...rest: never[]) {
    byFd.get(fd)?.settle();
    return call.call(fs, fd, ...rest);
  } as F;
}

function install(): void {
  if (installed) return;
  installed = true;
  fs.openSync = function openSync(path: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode | null): number {
    const fd = (original.openSync as (...a: unknown[]) => number)(path, flags, mode);
    const w = typeof path === "string" ? watched.get(resolve(path)) : undefined;
    if (w && writable(flags)) {
      w.fds.add(fd);
      byFd.set(fd, w);
      w.open();
    }
    return fd;
  } as typeof fs.openSync;
  fs.writeSync = function writeSync(fd: number, buffer: unknown, ...rest: unknown[]): number {
    const w = byFd.get(fd);
    const [offset, length, position] = rest;
    if (w && ArrayBuffer.isView(buffer) && typeof offset === "number" && typeof length === "number" && typeof position === "number") {
      return w.write(fd, new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength), offset, length, position);
    }
    w?.settle();
    return (original.writeSync as (...a: unknown[]) => number)(fd, buffer, ...rest);
  } as typeof fs.writeSync;
  fs.readSync = function readSync(fd: number, buffer: unknown, ...rest: unknown[]): number {
    const w = byFd.get(fd);
    if (w) {
      const [, length, position] = rest;
      // A read at the descriptor's own position (none given) is settled whatever it covers.
      if (typeof length === "number" && typeof position === "number") w.beforeRead(position, length);
      else w.settle();
    }
    return (original.readSync as (...a: unknown[]) => number)(fd, buffer, ...rest);
  } as typeof fs.readSync;
  fs.fstatSync = settled(original.fstatSync) as typeof fs.fstatSync;
  fs.ftruncateSync = settled(original.ftruncateSync);
  fs.fsyncSync = settled(original.fsyncSync);
  fs.fdatasyncSync = settled(original.fdatasyncSync);
  fs.closeSync = function closeSync(fd: number): void {
    const w = byFd.get(fd);
    if (!w) return original.closeSync(fd);
    byFd.delete(fd);
    w.fds.delete(fd);
    try {
      if (w.fds.size === 0) w.close();
      else w.settle();
    } finally {
      original.closeSync(fd);
    }
  };
}

/**
 * From now on, large writes of `path` by HDF5 in this thread go around the page cache (see above), until
 * unwatch(). Call before the file is opened. Returns the file's counters, updated as it is written.
 */
export function watchDirectWrites(path: string): DirectWrites {
  install();
  const w = new Watch(resolve(path));
  watched.set(w.path, w);
  return w;
}

/** Stops watching `path` (its descriptors keep working; a direct one closes with the file's last). */
export function unwatchDirectWrites(path: string): void {
  watched.delete(resolve(path));
}
