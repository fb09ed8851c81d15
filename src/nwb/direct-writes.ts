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
// is copied into a shared ring and queued: its whole 4096-byte pages for a descriptor opened O_DIRECT, the part
// pages at either end for one through the page cache (a direct write needs aligned offsets, lengths and memory).
// Every other call on the file — a small write (HDF5's metadata), fstat, ftruncate, close, a read of a range
// still queued — first waits until the queue is empty. So the file is always what a prefix of HDF5's writes, in
// HDF5's order, made it: a crash leaves what it would have left had the writes not been queued, only earlier.
// Metadata that points at frame data is never in the file before that data. Linux keeps the two descriptors
// coherent (a direct write writes back and drops any cached page it covers), and fsync covers both; the file's
// owner calls settle() before each fsync. A file system that refuses O_DIRECT (EINVAL) is written as before.
//
// A queued write that fails (ENOSPC, EIO) stops the queue: it and the writes queued after it are kept, the
// error is thrown from the next call on the file (HDF5 then fails), and the kept writes are retried through the
// page cache, in order, before any later call — so a file cut back and closed after the failure (NwbFile.abandon)
// is written over what HDF5 believes it holds.
import fs from "node:fs";
import { resolve } from "node:path";
import type { Worker } from "node:worker_threads";
import { startWorker } from "../threads.js";

/** Alignment of a direct write's file offset, length and memory: the largest logical block size in use. */
const PAGE = 4096;
/** WebAssembly's Memory (the project's libs, ES2022 without the DOM's, do not declare it). */
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: true }) => { buffer: SharedArrayBuffer } } }).WebAssembly;
/** Writes smaller than this gain nothing from going direct (HDF5's metadata, small chunks). */
const MIN_DIRECT_BYTES = 256 * 1024;
/** A large write is queued in pieces of at most this: a 2048² uint16 frame. */
const PIECE_BYTES = 8 * 2 ** 20;
/**
 * Bytes queued at most: two pieces and their part pages, so one frame is written while the next is copied in.
 * A frame counts as written (NwbWriter's latency) once queued: it reaches the OS at most ~9 ms later at 2 GB/s.
 */
const RING_BYTES = 2 * PIECE_BYTES + 2 ** 20;
/** Writes queued at most (a large write is up to three: head part page, whole pages, tail part page). */
const QUEUE = 256;
/** A queue entry: the bytes' offset in the ring, their length, their position in the file, and which descriptor. */
export const ENTRY = 4;
export const Descriptor = { Cached: 0, Direct: 1 } as const;
export type Descriptor = (typeof Descriptor)[keyof typeof Descriptor];
/** The control words shared with the writing thread (Int32Array indices). */
export const Control = {
  /** Writes queued, and writes done (failed or skipped ones too); both count on past 2^31 by wrapping. */
  Submitted: 0,
  Done: 1,
  /** 0, or 1 + the number of the write that failed: it and every write after it were skipped. */
  Failed: 2,
  /** Set when the file is closed: the thread ends. */
  Stop: 3,
  /** Bytes of the failure's { code, message } (UTF-8 JSON) from ERROR_AT on. */
  ErrorBytes: 4,
  /** Set by the thread once it runs: until then writes are not queued (starting it takes 20 ms–2 s). */
  Ready: 5,
} as const;
export const CONTROL_WORDS = 8;
export const ERROR_AT = CONTROL_WORDS * 4;
const CONTROL_BYTES = ERROR_AT + 1024;

/** What the writing thread is given, as its first message. */
export interface WritingThreadData {
  control: SharedArrayBuffer;
  queue: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  /** [Descriptor.Cached, Descriptor.Direct]: descriptors are the process's, shared by its threads. */
  fds: [number, number];
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

/** The queue and the thread that empties it. */
class WritingThread {
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES));
  private readonly queue = new Float64Array(new SharedArrayBuffer(QUEUE * ENTRY * 8));
  /** A WebAssembly memory's bytes are page-aligned (a plain ArrayBuffer's are not), as a direct write needs. */
  private readonly ring = new Uint8Array(new Memory({ initial: RING_BYTES / 65536, maximum: RING_BYTES / 65536, shared: true }).buffer);
  private readonly worker: Worker;
  private submitted = 0;
  /** Where the next write's bytes go in the ring. */
  private head = 0;

  /** Resolves when the thread runs, with why not if it could not start. */
  readonly started: Promise<string | undefined>;

  constructor(fds: [number, number]) {
    this.worker = startWorker(import.meta.url, "./writing-thread.js");
    this.started = new Promise((resolve) => {
      this.worker.once("message", () => {
        this.worker.unref(); // a process that exits without closing the file leaves it as a crash would
        resolve(undefined);
      });
      this.worker.once("error", (e) => resolve(`the writing thread failed to start (${e.message})`));
      this.worker.once("exit", (code) => resolve(`the writing thread exited (${code}) before it ran`));
    });
    this.worker.postMessage({ control: this.control.buffer as SharedArrayBuffer, queue: this.queue.buffer as SharedArrayBuffer, ring: this.ring.buffer as SharedArrayBuffer, fds } satisfies WritingThreadData);
  }

  /** Queues `length` bytes of `bytes` from `offset`, to be written at `position` through `fd`. At most PIECE_BYTES. */
  put(bytes: Uint8Array, offset: number, length: number, position: number, fd: Descriptor): void {
    if (length === 0) return;
    const at = this.reserve(Math.ceil(length / PAGE) * PAGE);
    this.ring.set(bytes.subarray(offset, offset + length), at);
    const e = (this.submitted & (QUEUE - 1)) * ENTRY;
    this.queue[e] = at;
    this.queue[e + 1] = length;
    this.queue[e + 2] = position;
    this.queue[e + 3] = fd;
    this.submitted = (this.submitted + 1) | 0;
    Atomics.store(this.control, Control.Submitted, this.submitted);
    Atomics.notify(this.control, Control.Submitted);
  }

  /** Room in the ring for `bytes`, once the writes before have freed it. */
  private reserve(bytes: number): number {
    for (;;) {
      const done = Atomics.load(this.control, Control.Done);
      const waiting = (this.submitted - done) | 0;
      if (waiting === 0) this.head = 0;
      else if (waiting < QUEUE) {
        const tail = this.queue[(done & (QUEUE - 1)) * ENTRY]!; // the oldest queued write's bytes
        if (this.head > tail) {
          if (RING_BYTES - this.head >= bytes) return this.take(this.head, bytes);
          if (tail >= bytes) return this.take(0, bytes);
        } else if (this.head < tail && tail - this.head >= bytes) return this.take(this.head, bytes);
      }
      if (waiting === 0) return this.take(0, bytes);
      Atomics.wait(this.control, Control.Done, done);
    }
  }

  private take(at: number, bytes: number): number {
    this.head = at + bytes;
    return at;
  }

  get failed(): boolean {
    return Atomics.load(this.control, Control.Failed) !== 0;
  }

  get ready(): boolean {
    return Atomics.load(this.control, Control.Ready) !== 0;
  }

  /** Whether a queued write covers any of [position, position + length). */
  queued(position: number, length: number): boolean {
    for (let n = Atomics.load(this.control, Control.Done); n !== this.submitted; n = (n + 1) | 0) {
      const e = (n & (QUEUE - 1)) * ENTRY;
      if (this.queue[e + 2]! < position + length && position < this.queue[e + 2]! + this.queue[e + 1]!) return true;
    }
    return false;
  }

  /**
   * Waits until every queued write is done. If one failed: its error and the writes it stopped (it and those
   * after it), copied out of the ring, with their descriptor.
   */
  drain(): { error: NodeJS.ErrnoException; kept: { bytes: Uint8Array; position: number; fd: Descriptor }[] } | undefined {
    for (let done; (done = Atomics.load(this.control, Control.Done)) !== this.submitted; ) Atomics.wait(this.control, Control.Done, done);
    const failed = Atomics.load(this.control, Control.Failed);
    if (failed === 0) return undefined;
    const { code, message } = JSON.parse(new TextDecoder().decode(new Uint8Array(this.control.buffer, ERROR_AT, this.control[Control.ErrorBytes]).slice())) as { code?: string; message: string };
    const kept = [];
    for (let n = (failed - 1) | 0; n !== this.submitted; n = (n + 1) | 0) {
      const e = (n & (QUEUE - 1)) * ENTRY;
      const at = this.queue[e]!;
      kept.push({ bytes: this.ring.slice(at, at + this.queue[e + 1]!), position: this.queue[e + 2]!, fd: this.queue[e + 3] as Descriptor });
    }
    Atomics.store(this.control, Control.Failed, 0);
    return { error: Object.assign(new Error(message), { code: code ?? "EIO", syscall: "write" }), kept };
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
  private owed: { bytes: Uint8Array; position: number }[] = [];

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
    this.thread = new WritingThread(this.own);
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
      for (const k of failed.kept) if (k.fd === Descriptor.Direct) this.directBytes -= k.bytes.byteLength;
      this.owed = failed.kept;
      if (failed.error.code === "EINVAL" && failed.kept[0]!.fd === Descriptor.Direct) {
        // A file system that takes the flag but not these writes: they are done through the page cache instead.
        this.refused = "the file system refused a direct write (EINVAL)";
      } else throw failed.error;
    }
    while (this.owed.length) {
      const { bytes, position } = this.owed[0]!;
      writeAll(this.own![Descriptor.Cached], bytes, 0, bytes.byteLength, position);
      this.owed.shift();
    }
  }

  /** Before a call that reads [position, position + length) of the file: settled if any of it is still queued. */
  beforeRead(position: number, length: number): void {
    if (this.thread?.failed || this.owed.length || this.thread?.queued(position, length)) this.settle();
  }

  /** Writes `length` bytes of `bytes` from `offset` at `position`: queued if large, at once (after the queue) if not. */
  write(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number {
    const head = (PAGE - (position % PAGE)) % PAGE;
    const body = Math.floor((length - head) / PAGE) * PAGE;
    // Until the thread runs, the writer's thread would wait for it once the ring is full: a stall of up to 2 s.
    if (!this.thread || this.thread.failed || !this.thread.ready || body < MIN_DIRECT_BYTES) {
      this.settle();
      return writeAll(fd, bytes, offset, length, position);
    }
    const t = this.thread;
    t.put(bytes, offset, head, position, Descriptor.Cached);
    for (let done = 0; done < body; ) {
      const piece = Math.min(body - done, PIECE_BYTES);
      t.put(bytes, offset + head + done, piece, position + head + done, Descriptor.Direct);
      done += piece;
    }
    t.put(bytes, offset + head + body, length - head - body, position + head + body, Descriptor.Cached);
    this.directBytes += body;
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
