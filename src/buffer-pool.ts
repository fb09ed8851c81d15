// Frame-sized ArrayBuffers, reused. A frame's buffer makes a round trip anyway: a driver fills it, it is
// transferred to the NWB writer's worker, and transferred back once written. A fresh buffer would cost a
// page fault per 4 KiB on first touch (~2 000 for a 2048² uint16 frame) and work for the garbage collector.
// Drivers take from here and the writer gives back; neither knows the other.

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private held = 0;

  /**
   * @param maxBytes most bytes kept for reuse; a buffer given beyond that is left to the garbage collector.
   * @param minBytes buffers smaller than this are not kept (telemetry, timestamps: cheap to make).
   */
  constructor(
    readonly maxBytes: number,
    readonly minBytes = 64 * 1024,
  ) {}

  /** A buffer of exactly `byteLength` bytes, reused when one is free; its contents are whatever it last held. */
  take(byteLength: number): ArrayBuffer {
    const buffer = this.free.get(byteLength)?.pop();
    if (!buffer) return new ArrayBuffer(byteLength);
    this.held -= byteLength;
    return buffer;
  }

  /** Gives back a buffer nobody uses any more (a detached one is ignored). */
  give(buffer: ArrayBuffer): void {
    const n = buffer.byteLength;
    if (n < this.minBytes || this.held + n > this.maxBytes) return;
    const list = this.free.get(n) ?? [];
    this.free.set(n, list);
    list.push(buffer);
    this.held += n;
  }

  /** Every buffer of `byteLength` bytes held for reuse, taken out of the pool (none are made). */
  takeHeld(byteLength: number): ArrayBuffer[] {
    const list = this.free.get(byteLength) ?? [];
    this.free.delete(byteLength);
    this.held -= list.length * byteLength;
    return list;
  }

  /** Bytes held for reuse. */
  get heldBytes(): number {
    return this.held;
  }

  /** Lets every held buffer go (a session ended: the next may have frames of another size). */
  clear(): void {
    this.free.clear();
    this.held = 0;
  }
}

/**
 * The process's pool of frame buffers. 128 MiB: twice the NWB writer's default queue, which bounds how many
 * buffers are ever in flight at once.
 */
export const frameBuffers = new BufferPool(128 * 1024 * 1024);
