// The WebAssembly SIMD kernels of the online analysis (assembly/kernels.ts, built by `npm run build` into
// dist/kernels.wasm), one instance per thread — per analysis worker — and the arrays they work on, laid out in its
// memory. Found as other shipped files are (projectFile), so that it loads from dist/ and from source (vitest) alike.
import { readFileSync } from "node:fs";
import { copyBytes } from "../../frame-slots.js";
import { projectFile } from "../../project-files.js";

interface Exports {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  allocate(bytes: number): number;
  release(at: number): void;
  sumMaxU16(frame: number, sums: number, maxima: number, width: number, height: number, sx: number, sy: number): void;
  centreRowU16(frame: number, origin: number, out: number, width: number, height: number, y: number, sx: number, sy: number, first: boolean): void;
  correlateRow(line: number, below: number, sums: number, k0: number, width: number): void;
  binTaperU16(frame: number, hann: number, out: number, width: number, x0: number, y0: number, bin: number, n: number): void;
  maskSumsU16(frame: number, weights: number, roi: number, offset: number, from: number, runs: number, inside: number, sums: number, norm: number, width: number, height: number, sx: number, sy: number): void;
}

/** The part of WebAssembly's API used here (the project's libs, ES2022 without the DOM's, do not declare it). */
const { Module, Instance } = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (module: object) => { exports: unknown } } }).WebAssembly;
/** Throws naming the file when it was never built (`npm run build`). */
export const kernels = new Instance(new Module(readFileSync(projectFile(import.meta.url, "dist/kernels.wasm")))).exports as Exports;

type ArrayType = Int32Array | Float32Array | Float64Array | Uint16Array | Int16Array | Uint8Array;
export interface ArrayConstructor<A extends ArrayType> {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): A;
  readonly BYTES_PER_ELEMENT: number;
}

/**
 * An array in the kernels' memory: `at` its byte offset, for the kernels; `view` for JS, remade when the memory
 * has grown (growing detaches the old buffer). Its bytes go back to the allocator when it is garbage-collected.
 */
export class WasmArray<A extends ArrayType> {
  readonly at: number;
  private cached: A;

  constructor(
    private readonly Type: ArrayConstructor<A>,
    readonly length: number,
  ) {
    this.at = kernels.allocate(length * Type.BYTES_PER_ELEMENT);
    this.cached = new Type(kernels.memory.buffer, this.at, length);
    released.register(this, this.at);
  }

  get view(): A {
    if (this.cached.buffer !== kernels.memory.buffer) this.cached = new this.Type(kernels.memory.buffer, this.at, this.length);
    return this.cached;
  }
}

const released = new FinalizationRegistry<number>((at) => kernels.release(at));

/** The frame last given to copyFrame, in the kernels' memory. */
let frameCopy = new WasmArray(Uint16Array, 0);

/** Copies a uint16 frame into the kernels' memory; returns its byte offset, valid until the next copy. */
export function copyFrame(frame: Uint16Array): number {
  if (frameCopy.length < frame.length) frameCopy = new WasmArray(Uint16Array, frame.length);
  copyBytes(frameCopy.view, frame); // out of a shared frame slot
  return frameCopy.at;
}
