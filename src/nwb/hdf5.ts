// Typed HDF5 primitives on h5wasm, each producing exactly the HDF5 type and dataspace the reference
// stack (pynwb/h5py) writes: variable-length UTF-8 scalars for text, float64 scalars for numbers,
// scalar object references, and chunked datasets that grow along their first axis.
import h5wasm from "h5wasm/node";
import type { Dataset, Group } from "h5wasm/node";
import { resolve } from "node:path";
import { copyBytes } from "../frame-slots.js";
import { ELEMENT_TYPES, elementTypeOf, type ElementType, type NumericArray } from "./element-types.js";

export { ELEMENT_TYPES, type ElementType, type NumericArray };

type H5Module = Awaited<typeof h5wasm.ready>;
let module: H5Module | undefined;

/**
 * h5wasm must finish loading its WebAssembly module before any file is opened. HDF5 errors then throw (one
 * Error whose message is the HDF5 error stack) instead of printing that stack to stderr and carrying on.
 */
export async function loadHdf5(): Promise<void> {
  if (module) return;
  module = await h5wasm.ready;
  if (module.activate_throwing_error_handler() < 0) throw new Error("h5wasm: cannot install the throwing HDF5 error handler");
}

export const { File } = h5wasm;
export type { Dataset, Group };
export type H5Object = Group | Dataset;

export function textAttr(obj: H5Object, name: string, value: string): void {
  obj.create_attribute(name, value);
}

export function textArrayAttr(obj: H5Object, name: string, values: string[]): void {
  // A one-element list must stay an array (e.g. `colnames`), so the shape is always given.
  obj.create_attribute(name, values, [values.length]);
}

export function floatAttr(obj: H5Object, name: string, value: number): void {
  // An explicit float64 dtype: whole numbers would otherwise become int32, which pynwb rejects.
  obj.create_attribute(name, value, null, "<d");
}

export function floatArrayAttr(obj: H5Object, name: string, values: readonly number[]): void {
  obj.create_attribute(name, new Float64Array(values), [values.length], "<d");
}

export function int64Attr(obj: H5Object, name: string, value: number): void {
  // An empty shape makes a scalar of the one-element array.
  obj.create_attribute(name, BigInt64Array.of(BigInt(value)), [], "<q");
}

/** A scalar object reference (`.specloc`, `table`, `target`): exactly one reference, never an array. */
export function referenceAttr(obj: H5Object, name: string, target: H5Object): void {
  obj.create_attribute(name, target.create_reference(), null, "Reference");
}

export function textDataset(group: Group, name: string, value: string, encoding: "utf-8" | "ascii" = "utf-8"): Dataset {
  return encoding === "ascii"
    ? group.create_dataset({ name, data: value, dtype: "A" })
    : group.create_dataset({ name, data: value });
}

export function textArrayDataset(group: Group, name: string, values: string[], encoding: "utf-8" | "ascii" = "utf-8"): Dataset {
  return encoding === "ascii"
    ? group.create_dataset({ name, data: values, shape: [values.length], dtype: "A" })
    : group.create_dataset({ name, data: values, shape: [values.length] });
}

export function numericDataset(group: Group, name: string, data: NumericArray, shape: readonly number[]): Dataset {
  const type = elementTypeOf(data);
  if (!type) throw new Error(`dataset ${name}: unsupported array type ${data.constructor.name}`);
  return group.create_dataset({ name, data, shape: [...shape], dtype: ELEMENT_TYPES[type].code });
}

export function float64ScalarDataset(group: Group, name: string, value: number): Dataset {
  return group.create_dataset({ name, data: value, dtype: "<d" });
}

export interface GrowingDatasetOptions {
  /** Shape of one row (everything after the growing first axis). */
  rowShape: readonly number[];
  type: ElementType;
  chunks: readonly number[];
  gzipLevel?: number | undefined;
}

/** A dataset of zero rows that grows along its first axis. */
export function growingDataset(group: Group, name: string, o: GrowingDatasetOptions): Dataset {
  const t = ELEMENT_TYPES[o.type];
  return group.create_dataset({
    name,
    data: new t.array(0),
    shape: [0, ...o.rowShape],
    maxshape: [null, ...o.rowShape.map((n) => n)],
    chunks: [...o.chunks],
    dtype: t.code,
    ...(o.gzipLevel ? { compression: "gzip" as const, compression_opts: o.gzipLevel } : {}),
  });
}

/** A chunked, growing 1-D dataset of variable-length UTF-8 strings. */
export function growingTextDataset(group: Group, name: string, chunkRows = 256): Dataset {
  return group.create_dataset({ name, data: [] as string[], shape: [0], maxshape: [null], chunks: [chunkRows], dtype: "S" });
}

/** Writes `data` as rows [start, start + rows) of a dataset growing along its first axis. */
export function writeRows(ds: Dataset, start: number, rows: number, rowShape: readonly number[], data: NumericArray): void {
  const end = start + rows;
  if ((ds.shape?.[0] ?? 0) < end) ds.resize([end, ...rowShape]);
  ds.write_slice([[start, end], ...rowShape.map((): [] => [])], data);
}

/**
 * A buffer in h5wasm's heap that samples are copied into and written from by HDF5 itself. Dataset.write_slice
 * allocates a buffer, copies into it and opens the dataset anew to re-read its metadata at every call: 0.52 ms
 * of CPU per 512² uint16 frame, against 0.44 ms written from here one at a time and 0.35 ms eight at a time.
 * release() frees it; nothing may use it afterwards.
 */
export class HeapBuffer {
  private readonly m: H5Module;
  private ptr: number;

  constructor(readonly bytes: number) {
    if (!module) throw new Error("loadHdf5() must be awaited before writing");
    this.m = module;
    this.ptr = this.m._malloc(bytes);
    // h5wasm's heap tops out at 2 GiB: a failed allocation returns 0 rather than throwing.
    if (this.ptr === 0) throw new Error(`h5wasm: cannot allocate ${bytes} bytes in its heap`);
  }

  /** Copies `data` in at `byteOffset`. */
  set(data: NumericArray, byteOffset: number): void {
    // The heap's ArrayBuffer is replaced when it grows: HEAPU8 is looked up at every copy.
    copyBytes(this.m.HEAPU8, data, this.ptr + byteOffset);
  }

  /** Writes the buffer's first bytes into the hyperslab of `ds` at `offset` of `count` (per axis), laid out row-major. */
  write(ds: Dataset, offset: readonly number[], count: readonly number[]): void {
    this.m.set_dataset_data(ds.file_id, ds.path, count.map(BigInt), offset.map(BigInt), count.map(() => 1n), BigInt(this.ptr));
  }

  release(): void {
    if (this.ptr) this.m._free(this.ptr);
    this.ptr = 0;
  }
}

const utf8 = new TextEncoder();

/**
 * Writes strings as rows [start, start + values.length) of a growing variable-length string dataset,
 * growing it if needed: appends, or overwrites rows already there. h5wasm's write_slice refuses
 * variable-length data, but its exported `set_dataset_data` writes a hyperslab of any type from a
 * buffer in the dataset's own memory layout — for variable-length strings, an array of C string pointers.
 */
export function writeText(ds: Dataset, start: number, values: readonly string[]): void {
  if (!module) throw new Error("loadHdf5() must be awaited before writing");
  if (values.length === 0) return;
  const m = module;
  const end = start + values.length;
  if ((ds.shape?.[0] ?? 0) < end) ds.resize([end]);
  const pointers = values.map((s) => {
    const bytes = utf8.encode(`${s}\0`);
    const p = m._malloc(bytes.length);
    m.HEAPU8.set(bytes, p);
    return p;
  });
  const table = m._malloc(4 * pointers.length);
  try {
    new Uint32Array(m.HEAPU8.buffer, table, pointers.length).set(pointers);
    m.set_dataset_data(ds.file_id, ds.path, [BigInt(values.length)], [BigInt(start)], [1n], BigInt(table));
  } finally {
    for (const p of pointers) m._free(p);
    m._free(table);
  }
}

/**
 * The rows of a 1-D variable-length string dataset; undefined for a row HDF5 cannot read (after a crash, a
 * row whose string never reached the file's global heap). h5wasm's own readers free whatever the buffer
 * holds after a failed read, which corrupts the WebAssembly heap: here the buffer starts zeroed and a row
 * that fails is not freed. A failed read leaks a dataset handle: flush before closing, then releaseLeakedFiles.
 */
export function readText(ds: Dataset): (string | undefined)[] {
  if (!module) throw new Error("loadHdf5() must be awaited before reading");
  const m = module;
  const read = (start: number, count: number): (string | undefined)[] | undefined => {
    const table = m._malloc(4 * count);
    m.HEAPU8.fill(0, table, table + 4 * count);
    try {
      m.get_dataset_data(ds.file_id, ds.path, [BigInt(count)], [BigInt(start)], [1n], BigInt(table));
    } catch {
      m._free(table);
      return undefined;
    }
    const view = new DataView(m.HEAPU8.buffer, table, 4 * count);
    const rows = Array.from({ length: count }, (_, i) => m.UTF8ToString(view.getUint32(4 * i, true)));
    m.reclaim_vlen_memory_count(ds.file_id, ds.path, "", BigInt(table), [BigInt(count)]);
    m._free(table);
    return rows;
  };
  const n = ds.shape?.[0] ?? 0;
  // Row by row only when the whole cannot be read.
  return (n ? read(0, n) : []) ?? Array.from({ length: n }, (_, i) => read(i, 1)?.[0]);
}

/** The emscripten file streams h5wasm's C code holds (not in h5wasm's types): real descriptors under Node. */
interface StreamTable {
  streams: ({ path: string } | null | undefined)[];
  close(stream: { path: string }): void;
}

/**
 * Closes the descriptors h5wasm's C code leaked on the way to a failure; returns how many. A failed HDF5 call
 * throws past h5wasm's cleanup: it leaks an open dataset handle, for whose sake HDF5 keeps the file open past
 * H5Fclose, and the throwing error handler leaks the (deleted) temporary file it printed the stack into.
 * Call it once the file is flushed and closed, after a failure: it closes every descriptor HDF5 holds on `path`.
 */
export function releaseLeakedFiles(path: string): number {
  if (!module) return 0;
  const fs = (module as unknown as { FS: StreamTable }).FS;
  const target = resolve(path);
  const leaked = fs.streams.filter((s): s is { path: string } => !!s && (resolve(s.path) === target || s.path.startsWith("/tmp/tmpfile_")));
  for (const s of leaked) fs.close(s);
  return leaked.length;
}
