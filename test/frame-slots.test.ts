// copyBytes: frames copied into and out of shared memory, at the alignments zeromq.js and h5wasm hand out.
import { describe, expect, it } from "vitest";
import { copyBytes } from "../src/frame-slots.js";

/** Bytes that differ at every offset (a copy that lands one byte off, or misses a tail, cannot match). */
const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

describe("copyBytes", () => {
  it("copies between shared and unshared memory, at any alignment of either side, and touches nothing else", () => {
    const n = 512 * 1024 + 3; // a frame and a ragged tail
    for (const [Source, Target] of [[ArrayBuffer, SharedArrayBuffer], [SharedArrayBuffer, ArrayBuffer], [SharedArrayBuffer, SharedArrayBuffer]] as const) {
      for (const sourceOffset of [0, 1, 6]) {
        for (const targetOffset of [0, 3, 8]) {
          const source = new Uint8Array(new Source(n + 16), sourceOffset, n);
          source.set(pattern(n, sourceOffset));
          const target = new Uint8Array(new Target(n + 32));
          target.fill(0xee);
          copyBytes(target, source, targetOffset);
          expect(Buffer.from(target.buffer, targetOffset, n).equals(Buffer.from(pattern(n, sourceOffset)))).toBe(true);
          expect(target.subarray(0, targetOffset).every((b) => b === 0xee)).toBe(true);
          expect(target.subarray(targetOffset + n).every((b) => b === 0xee)).toBe(true);
        }
      }
    }
  });

  it("copies typed arrays of wider elements byte for byte (uint16 pixels into a view at an offset)", () => {
    const pixels = Uint16Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 16);
    const slot = new Uint16Array(new SharedArrayBuffer(2 * 8192), 2 * 100, 4096);
    copyBytes(slot, pixels);
    expect(Array.from(slot)).toEqual(Array.from(pixels));
  });

  it("copies nothing for an empty source, and refuses a source larger than the room after the offset", () => {
    const target = new Uint8Array(8).fill(7);
    copyBytes(target, new Uint8Array(0), 8);
    expect(Array.from(target)).toEqual(new Array(8).fill(7));
    expect(() => copyBytes(target, new Uint8Array(5), 4)).toThrow("5 bytes do not fit 4 bytes");
    expect(Array.from(target)).toEqual(new Array(8).fill(7));
  });
});
