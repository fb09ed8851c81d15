// Frame data written around the page cache (O_DIRECT). A recording writes each byte once and does not read it
// back while it records; through the page cache each page is first allocated, then copied into, then written
// back, and stays cached, crowding out what the machine does need. Measured on the 2-core VM this project is
// built on (ext4 on virtio), 8 MiB through the page cache took 13–20 ms of CPU — freshly used memory is
// faulted in by the host — against 0.12 ms with O_DIRECT, at 2.2 GB/s (README, Throughput).
//
// HDF5 (h5wasm's NODERAWFS) writes with Node's fs.writeSync on a descriptor of its own. For the one file being
// recorded, this wraps fs.openSync, writeSync and closeSync in the writer's thread: of a large write, the whole
// 4096-byte pages go through a second descriptor opened O_DIRECT, from an aligned buffer; the part pages at
// either end, metadata and every read keep the page cache. Linux keeps the two coherent: a direct write first
// writes back and drops any cached page it covers, and a read after it reads what it wrote. fsync covers both
// (it syncs the file, whichever descriptor). A file system that refuses O_DIRECT (EINVAL) is written as before.
import fs from "node:fs";
import { resolve } from "node:path";

/** Alignment of a direct write's file offset, length and memory: the largest logical block size in use. */
const PAGE = 4096;
/** WebAssembly's Memory (the project's libs, ES2022 without the DOM's, do not declare it). */
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
/** Writes smaller than this gain nothing from going direct (HDF5's metadata, small chunks). */
const MIN_DIRECT_BYTES = 256 * 1024;

/** How one watched file is being written. */
export interface DirectWriteStats {
  /** Bytes written around the page cache so far. */
  directBytes: number;
  /** Why writes go through the page cache instead (the file system refused O_DIRECT), if they do. */
  refused?: string;
}

class Watch implements DirectWriteStats {
  directBytes = 0;
  refused?: string;
  directFd?: number;
  readonly fds = new Set<number>();
  private bounce?: Uint8Array;

  constructor(readonly path: string) {}

  open(): void {
    if (this.directFd !== undefined || this.refused) return;
    if (fs.constants.O_DIRECT === undefined) {
      this.refused = "this system has no O_DIRECT";
      return;
    }
    try {
      this.directFd = original.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_DIRECT);
    } catch (e) {
      this.refused = `the file system refused O_DIRECT (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    }
  }

  close(): void {
    if (this.directFd !== undefined) original.closeSync(this.directFd);
    this.directFd = undefined;
  }

  /** An aligned buffer of at least `bytes`: a WebAssembly memory's is page-aligned (a plain ArrayBuffer's is not). */
  private aligned(bytes: number): Uint8Array {
    if (!this.bounce || this.bounce.byteLength < bytes) this.bounce = new Uint8Array(new Memory({ initial: Math.ceil(bytes / 65536) }).buffer);
    return this.bounce;
  }

  /** Writes `length` bytes of `bytes` from `offset` at `position`: whole pages direct, the ends as before. */
  write(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number {
    const head = (PAGE - (position % PAGE)) % PAGE;
    const body = Math.floor((length - head) / PAGE) * PAGE;
    if (this.directFd === undefined || body < MIN_DIRECT_BYTES) return writeAll(fd, bytes, offset, length, position);
    writeAll(fd, bytes, offset, head, position);
    const staged = this.aligned(body);
    staged.set(bytes.subarray(offset + head, offset + head + body));
    try {
      writeAll(this.directFd, staged, 0, body, position + head);
      this.directBytes += body;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
      // Refused after all (a file system that takes the flag but not these writes): the page cache, from now on.
      this.refused = `the file system refused a direct write (EINVAL)`;
      this.close();
      writeAll(fd, bytes, offset + head, body, position + head);
    }
    const tail = length - head - body;
    writeAll(fd, bytes, offset + head + body, tail, position + head + body);
    return length;
  }
}

/** Writes all `length` bytes (a write may take fewer; for a regular file only when the disk is failing). */
function writeAll(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) done += original.writeSync(fd, bytes, offset + done, length - done, position + done);
  return length;
}

const original = { openSync: fs.openSync, writeSync: fs.writeSync, closeSync: fs.closeSync };
const watched = new Map<string, Watch>();
const byFd = new Map<number, Watch>();
let installed = false;

const writable = (flags: unknown) =>
  typeof flags === "number" ? (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR)) !== 0 : typeof flags === "string" && /[wa+]/.test(flags);

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
    return (original.writeSync as (...a: unknown[]) => number)(fd, buffer, ...rest);
  } as typeof fs.writeSync;
  fs.closeSync = function closeSync(fd: number): void {
    const w = byFd.get(fd);
    if (w) {
      byFd.delete(fd);
      w.fds.delete(fd);
      if (w.fds.size === 0) w.close();
    }
    original.closeSync(fd);
  };
}

/**
 * From now on, large writes of `path` by HDF5 in this thread go around the page cache (see above), until
 * unwatch(). Call before the file is opened. Returns the file's counters, updated as it is written.
 */
export function watchDirectWrites(path: string): DirectWriteStats {
  install();
  const w = new Watch(resolve(path));
  watched.set(w.path, w);
  return w;
}

/** Stops watching `path` (its descriptors keep working; a direct one closes with the file's last). */
export function unwatchDirectWrites(path: string): void {
  watched.delete(resolve(path));
}
