// Frame memory shared by the threads a frame passes through: the receiving thread copies each frame into a
// slot of one SharedArrayBuffer, the main thread sees it as a view, the writer's thread writes it and frees
// the slot. Each thread is handed the buffers once; per frame only a slot number travels. Moving an
// ArrayBuffer between threads instead made V8 count every frame twice as newly allocated memory on the
// main thread: at 40 fps of 2048² uint16 its collector then ran a third of the time.
//
// A slot is in use from acquire() to release(); its state is a generation, odd while in use, so a release
// that comes late (a view collected after its frame was written) can never free a slot used again since.
// Whoever ends a frame's life releases it: the writer once it is written, the pipeline when it drops it;
// a view the main thread lets go of without either is released when the garbage collector takes it.

import { threadId } from "node:worker_threads";

/** What a thread needs to attach to a set of slots. */
export interface SlotsHandle {
  id: string;
  data: SharedArrayBuffer;
  /** Int32 per slot (its generation), then one counter of releases that waiters watch. */
  states: SharedArrayBuffer;
  slotBytes: number;
}

/** One frame's slot: which set, which slot, in which use of it, and how many of its bytes the frame fills. */
export interface SlotRef {
  slots: string;
  slot: number;
  generation: number;
  byteLength: number;
}

type ViewType<T> = { new (buffer: SharedArrayBuffer, byteOffset: number, length: number): T; readonly BYTES_PER_ELEMENT: number };

const MAX_SLOTS = 1024;
const attached = new Map<string, FrameSlots>();
const tags = new WeakMap<object, SlotRef>();
let nextId = 0; // with the pid and thread id: ids are unique across threads
const finalizer = new FinalizationRegistry<SlotRef>((ref) => attached.get(ref.slots)?.release(ref));

export class FrameSlots {
  readonly count: number;
  private readonly states: Int32Array;

  private constructor(readonly handle: SlotsHandle) {
    this.count = Math.floor(handle.data.byteLength / handle.slotBytes);
    this.states = new Int32Array(handle.states);
  }

  /**
   * Slots of `slotBytes` each: as many as fit `budgetBytes`, at least `minSlots`. Memory is committed only as
   * slots are first used, and the lowest free slot is always taken, so what is touched is what is in flight.
   */
  static create(slotBytes: number, budgetBytes: number, minSlots: number): FrameSlots {
    // At most MAX_SLOTS, however small the frames: acquire() looks through them in turn.
    const count = Math.max(minSlots, Math.min(MAX_SLOTS, Math.floor(budgetBytes / slotBytes)));
    const handle = { id: `${process.pid}.${threadId}.${nextId++}`, data: new SharedArrayBuffer(count * slotBytes), states: new SharedArrayBuffer(4 * (count + 1)), slotBytes };
    return FrameSlots.attach(handle);
  }

  /**
   * Slots for a frame source's frames of `frameBytes`: 192 MiB, and at least one volume of
   * `framesPerVolume` (every channel's planes, flyback included) and 8 frames more, since the writer frees
   * each plane as it writes it. What is touched stays resident: this bounds rigd's RSS.
   */
  static forSource(frameBytes: number, framesPerVolume: number): FrameSlots {
    return FrameSlots.create(frameBytes, 192 * 2 ** 20, framesPerVolume + 8);
  }

  /** The slots of `handle` in this thread (the same object each time). */
  static attach(handle: SlotsHandle): FrameSlots {
    let slots = attached.get(handle.id);
    if (!slots) attached.set(handle.id, (slots = new FrameSlots(handle)));
    return slots;
  }

  /** Forgets the slots in this thread (the source closed): their memory goes once no view is left. */
  detach(): void {
    attached.delete(this.handle.id);
  }

  /** The set a slot reference belongs to, if this thread has attached it. */
  static of(ref: SlotRef): FrameSlots | undefined {
    return attached.get(ref.slots);
  }

  /** A free slot, now in use; undefined when every slot is in use (see freed()). */
  acquire(byteLength: number): SlotRef | undefined {
    if (byteLength > this.handle.slotBytes) throw new RangeError(`a frame of ${byteLength} bytes does not fit slots of ${this.handle.slotBytes}`);
    for (let slot = 0; slot < this.count; slot++) {
      const generation = Atomics.load(this.states, slot);
      if (generation % 2 === 0 && Atomics.compareExchange(this.states, slot, generation, generation + 1) === generation) {
        return { slots: this.handle.id, slot, generation: generation + 1, byteLength };
      }
    }
    return undefined;
  }

  /** Frees the slot if `ref` is still its current use; false if it was freed already. */
  release(ref: SlotRef): boolean {
    if (Atomics.compareExchange(this.states, ref.slot, ref.generation, ref.generation + 1) !== ref.generation) return false;
    Atomics.add(this.states, this.count, 1);
    Atomics.notify(this.states, this.count);
    return true;
  }

  /** Resolves once a slot is released after this call (or within `timeoutMs`, to look again). */
  async freed(timeoutMs: number): Promise<void> {
    const seen = Atomics.load(this.states, this.count);
    const wait = Atomics.waitAsync(this.states, this.count, seen, timeoutMs);
    if (wait.async) await wait.value;
  }

  /**
   * The frame in slot `ref` as a typed array. A view made with `track` is remembered: releaseFrame() and
   * slotOf() know it, and if it is collected while its slot is still in this use, the slot is freed.
   */
  view<T extends ArrayBufferView>(ref: SlotRef, Type: ViewType<T>, track = false): T {
    const view = new Type(this.handle.data, ref.slot * this.handle.slotBytes, ref.byteLength / Type.BYTES_PER_ELEMENT);
    if (track) {
      tags.set(view, ref);
      finalizer.register(view, ref);
    }
    return view;
  }
}

/** The slot a tracked view is in, if it is one. */
export function slotOf(view: ArrayBufferView): SlotRef | undefined {
  return tags.get(view);
}

/** Ends a frame's life early (dropped, set aside, not written): frees its slot if it has one; otherwise nothing. */
export function releaseFrame(view: ArrayBufferView): void {
  const ref = tags.get(view);
  if (ref) FrameSlots.of(ref)?.release(ref);
}

/**
 * Copies `source`'s bytes over the start of `target` (byte lengths: target ≥ source). Frames in and out of shared
 * memory go this way: TypedArray.prototype.set on a SharedArrayBuffer copies word by word (V8's relaxed_memmove,
 * no vector instructions; measured 270 µs per 512 KiB frame in rigd's receiving thread), where Buffer.fill with a
 * buffer as large as the range it fills is one native memcpy.
 */
export function copyBytes(target: ArrayBufferView, source: ArrayBufferView, targetByteOffset = 0): void {
  const n = source.byteLength;
  if (targetByteOffset + n > target.byteLength) throw new RangeError(`${n} bytes do not fit ${target.byteLength - targetByteOffset} bytes`);
  if (n === 0) return; // fill() refuses an empty value
  Buffer.from(target.buffer, target.byteOffset + targetByteOffset, n).fill(Buffer.from(source.buffer, source.byteOffset, n));
}
