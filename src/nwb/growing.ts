// Datasets that grow along their first axis, written a whole HDF5 chunk at a time (h5wasm writes part
// of a chunk ~4x slower), from a staging buffer in h5wasm's heap. Small rows wait there for their chunk to
// fill; frames, a chunk each, wait for a batch of them (BATCH_BYTES) to be written by one HDF5 call. A
// checkpoint writes whatever waits, so it survives a crash: a partial chunk is written again, whole, once it fills.
import { ELEMENT_TYPES, type Dataset, type ElementType, HeapBuffer, type NumericArray } from "./hdf5.js";

/** Chunk bytes for 1-D series (timestamps, telemetry): small, since they grow by a few values at a time. */
export const SMALL_CHUNK_BYTES = 64 * 1024;

/**
 * A chunk shape for rows (samples) of `rowShape`: rows under SMALL_CHUNK_BYTES grouped along time into about
 * `chunkBytes`; a larger row (a frame) one per chunk, split into bands along its first spatial axis when it is
 * larger than `chunkBytes`. A frame per chunk is written straight from the caller's buffer, with no staging
 * copy and no partial chunk to write again at each checkpoint: it is also h5py's fastest way to append frames.
 */
export function chooseChunkShape(rowShape: readonly number[], type: ElementType, chunkBytes: number): number[] {
  const rowBytes = rowShape.reduce((a, b) => a * b, 1) * ELEMENT_TYPES[type].bytes;
  if (rowShape.length === 0 || rowBytes < SMALL_CHUNK_BYTES) return [Math.max(1, Math.floor(chunkBytes / rowBytes)), ...rowShape];
  if (rowBytes <= chunkBytes) return [1, ...rowShape];
  const [first, ...rest] = rowShape as [number, ...number[]];
  const bandBytes = rowBytes / first;
  return [1, Math.max(1, Math.min(first, Math.floor(chunkBytes / bandBytes))), ...rest];
}

/**
 * The chunk shape of a volumetric series, (height, width, depths) per sample: one time step and one depth
 * plane per chunk, (1, band, width, 1), the plane split into bands of rows when it is larger than
 * `chunkBytes`. Depth stays the last axis of the data, as ndx-microscopy has it, yet each plane a camera or
 * an ETL delivers fills whole chunks as it is: nothing is interleaved or staged. (Interleaving 2048²×16
 * volumes into depth-last chunks took ~320 ms a volume, 40 % of the writer; h5py reads either layout.)
 */
export function chooseVolumeChunkShape(rowShape: readonly number[], type: ElementType, chunkBytes: number): number[] {
  const [height, width] = rowShape as [number, number, number];
  const rowBytes = width * ELEMENT_TYPES[type].bytes;
  return [1, Math.max(1, Math.min(height, Math.floor(chunkBytes / rowBytes))), width, 1];
}

/**
 * Frames (one per chunk) wait in h5wasm's heap until about this many bytes of them are there, or a checkpoint,
 * and are written by one HDF5 call: 8 frames of 512² uint16, one of 2048² (written at once).
 */
export const BATCH_BYTES = 4 * 2 ** 20;

export class GrowingDataset {
  readonly rowElements: number;
  private readonly rowBytes: number;
  private readonly chunkRows: number;
  /** Rows staged before they are written: a chunk's (rows grouped in chunks), or a batch of whole chunks (a frame per chunk). */
  private readonly stageRows: number;
  /** In h5wasm's heap, allocated at the first append. */
  private staging: HeapBuffer | undefined;
  /** A plane's room in h5wasm's heap, allocated at the first writePlane(). */
  private plane: HeapBuffer | undefined;
  /** Rows staged, from row `complete`. */
  private staged = 0;
  /** Rows written in whole chunks. */
  private complete = 0;
  /** Rows of the filling chunk already in the file (written by the last checkpoint). */
  private stagedInFile = 0;
  /** The dataset's extent along time: resizing here, its metadata is never read back. */
  private extent = 0;
  /** Whether the dataset holds a row past `complete` that writePlane() is filling. */
  private rowOpen = false;

  constructor(
    readonly dataset: Dataset,
    readonly rowShape: readonly number[],
    readonly type: ElementType,
    chunks: readonly number[],
  ) {
    this.rowElements = rowShape.reduce((a, b) => a * b, 1);
    this.rowBytes = this.rowElements * ELEMENT_TYPES[type].bytes;
    // Rows split into bands are whole chunks in time already; only grouped rows wait for their chunk to fill.
    this.chunkRows = chunks[0]!;
    this.stageRows = this.chunkRows > 1 ? this.chunkRows : Math.max(1, Math.floor(BATCH_BYTES / this.rowBytes));
  }

  get length(): number {
    return this.complete + this.staged;
  }

  /** Rows that are in the file (as of the last write of a chunk or checkpoint). */
  get lengthInFile(): number {
    return this.complete + this.stagedInFile;
  }

  append(data: NumericArray, rows: number): void {
    const e = this.rowElements;
    this.staging ??= new HeapBuffer(this.stageRows * this.rowBytes);
    for (let row = 0; row < rows; ) {
      const n = Math.min(this.stageRows - this.staged, rows - row);
      this.staging.set(data.subarray(row * e, (row + n) * e) as NumericArray, this.staged * this.rowBytes);
      this.staged += n;
      row += n;
      if (this.staged === this.stageRows) this.flush();
    }
  }

  /**
   * Appends one sample given as its planes along the last axis (a volume's depth planes, each row-major):
   * each plane is written where it belongs, in chunks one plane deep (chooseVolumeChunkShape), and
   * `written(d)` is called once plane d is (its buffer may then be reused).
   */
  appendPlanes(planes: readonly NumericArray[], written?: (d: number) => void): void {
    for (let d = 0; d < planes.length; d++) {
      this.writePlane(d, planes[d]!);
      written?.(d);
    }
    this.commitRow();
  }

  /**
   * Writes plane `d` (along the last axis) of the sample after the last whole one, planes in any order: the first
   * grows the dataset by that sample, which counts only once commitRow() says it is whole. Until then a crash
   * leaves it in the dataset past the series' last timestamp (rigd recover cuts it), and dropRow() takes it back.
   */
  writePlane(d: number, plane: NumericArray): void {
    if (this.chunkRows !== 1) throw new Error("planes need chunks of one sample");
    this.flush(); // whole samples appended before it (chunks of one sample: flush() leaves none staged)
    const row = this.complete;
    if (!this.rowOpen) this.resize(row + 1);
    this.rowOpen = true;
    if (plane.byteLength !== this.rowBytes / this.rowShape[this.rowShape.length - 1]!) throw new Error(`a plane of ${plane.byteLength} bytes does not fit samples of [${this.rowShape.join(", ")}]`);
    this.plane ??= new HeapBuffer(plane.byteLength);
    this.plane.set(plane, 0);
    this.plane.write(this.dataset, [row, ...this.rowShape.slice(0, -1).map(() => 0), d], [1, ...this.rowShape.slice(0, -1), 1]);
  }

  /** The sample writePlane() was writing is whole: it is now a row like any other. */
  commitRow(): void {
    this.complete += 1;
    this.rowOpen = false;
  }

  /** Takes back the sample writePlane() was writing (it will not be whole): the dataset ends at the last whole one. */
  dropRow(): void {
    if (this.rowOpen) this.resize(this.complete);
    this.rowOpen = false;
  }

  /**
   * Writes the staged rows, so the file holds every row appended. Whole chunks leave the staging; the rows of a
   * filling chunk stay, to be written again, whole, once it fills.
   */
  flush(): void {
    if (this.staged === this.stagedInFile) return;
    this.writeStaged(this.staged);
    if (this.staged % this.chunkRows === 0) {
      this.complete += this.staged;
      this.staged = 0;
      this.stagedInFile = 0;
    } else {
      this.stagedInFile = this.staged;
    }
  }

  /**
   * After a failed write, cuts the dataset back to its first `rows` rows: rows a checkpoint made durable, so
   * at most `length`. Rows of the filling chunk are first written again from the staging buffer, as a whole
   * chunk (HDF5 then need not read what is on disk): a failed rewrite of that chunk — a compressed chunk moves
   * when it grows — may have left its checkpointed rows unreadable. The dataset takes no more appends.
   */
  shrinkTo(rows: number): void {
    if (rows > this.complete) this.writeStaged(this.chunkRows);
    this.resize(rows);
    this.rowOpen = false;
  }

  /** Frees its buffers in h5wasm's heap; nothing may be appended afterwards. */
  release(): void {
    this.staging?.release();
    this.plane?.release();
  }

  /** Writes the first `rows` rows of the staging buffer from row `complete`. */
  private writeStaged(rows: number): void {
    if (this.extent < this.complete + rows) this.resize(this.complete + rows);
    this.staging!.write(this.dataset, [this.complete, ...this.rowShape.map(() => 0)], [rows, ...this.rowShape]);
  }

  private resize(rows: number): void {
    this.dataset.resize([rows, ...this.rowShape]);
    this.extent = rows;
  }
}
