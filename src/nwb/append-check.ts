// The checks every append passes before anything is queued or written, shared by the main-thread
// writer (so a bad frame is refused at the call that brought it) and the worker's file.
import { NwbInputError } from "./errors.js";
import { elementTypeOf, type ElementType } from "./element-types.js";

/** What a caller needs to know of a growing series to append to it. */
export interface SeriesInfo {
  name: string;
  path: string;
  neurodata_type: string;
  /** Shape of one sample: [height, width], [height, width, depths], [rois] or [] for scalars. */
  rowShape: number[];
  type: ElementType;
  /** A timestamp per sample (true) or a regular clock / shared timestamps (false). */
  timestamped: boolean;
  chunkShape: number[];
}

/** Where a series stands: samples appended, the last timestamp, and planes given of a volume appended plane by plane. */
export interface SeriesCursor {
  rows: number;
  lastTime: number;
  planes: number;
}

export const startCursor = (): SeriesCursor => ({ rows: 0, lastTime: -Infinity, planes: 0 });

const shapeText = (shape: readonly number[]) => (shape.length ? shape.join("×") : "scalar");

/** Validates one append and returns the number of samples it holds; `cursor` is advanced only by `advance`. */
export function checkAppend(
  info: SeriesInfo,
  cursor: SeriesCursor,
  data: ArrayBufferView,
  timestamps: ArrayLike<number> | undefined,
): number {
  const rows = checkSamples(info.name, info.type, info.rowShape, data);
  checkTimestamps(info, cursor, rows, timestamps);
  return rows;
}

/** The number of whole samples of `rowShape` that `data` holds, or a clear error. */
function checkSamples(name: string, type: ElementType, rowShape: readonly number[], data: ArrayBufferView): number {
  const rowElements = rowShape.reduce((a, b) => a * b, 1);
  const sample = `${type} samples of ${shapeText(rowShape)}`;
  const given = elementTypeOf(data);
  if (given !== type) {
    throw new NwbInputError(`${name}: expected ${sample}, got ${given ?? data.constructor.name} data`);
  }
  const elements = (data as unknown as ArrayLike<number>).length;
  if (elements === 0 || elements % rowElements !== 0) {
    throw new NwbInputError(`${name}: expected ${sample}, got ${elements} values, which is not a whole number of samples`);
  }
  return elements / rowElements;
}

function checkTimestamps(info: SeriesInfo, cursor: SeriesCursor, rows: number, timestamps: ArrayLike<number> | undefined): void {
  if (!info.timestamped) {
    if (timestamps) throw new NwbInputError(`${info.name}: timestamps given, but the series is timed by its declared clock`);
    return;
  }
  if (!timestamps) throw new NwbInputError(`${info.name}: expected ${rows} timestamps (one per sample), got none`);
  if (timestamps.length !== rows) {
    throw new NwbInputError(`${info.name}: expected ${rows} timestamps (one per sample), got ${timestamps.length}`);
  }
  let previous = cursor.lastTime;
  for (let i = 0; i < rows; i++) {
    const t = timestamps[i]!;
    if (!Number.isFinite(t) || t < 0) {
      throw new NwbInputError(`${info.name}: timestamp of sample ${cursor.rows + i} must be a finite number of seconds ≥ 0, got ${t}`);
    }
    if (t <= previous) {
      throw new NwbInputError(`${info.name}: timestamps must increase, but sample ${cursor.rows + i} is at ${t} s after ${previous} s`);
    }
    previous = t;
  }
}

/**
 * Validates one volume given as its depth planes (each height × width) for a series of
 * [height, width, depths] samples; each is written in place, depth last (chooseVolumeChunkShape).
 */
export function checkPlanes(info: SeriesInfo, cursor: SeriesCursor, planes: readonly ArrayBufferView[], timestamps: ArrayLike<number> | undefined): void {
  const [height, width, depths] = info.rowShape;
  if (info.rowShape.length !== 3) throw new NwbInputError(`${info.name}: appending planes needs a volumetric series, not samples of ${shapeText(info.rowShape)}`);
  if (planes.length !== depths) throw new NwbInputError(`${info.name}: expected ${depths} planes per volume, got ${planes.length}`);
  for (const plane of planes) {
    if (checkSamples(info.name, info.type, [height!, width!], plane) !== 1) throw new NwbInputError(`${info.name}: each plane must be one ${height}×${width} image`);
  }
  checkTimestamps(info, cursor, 1, timestamps);
}

/**
 * Validates plane `depth` of the volume being appended plane by plane, planes in order 0, 1, …; its timestamp (if
 * the series has them) comes with the last. Returns 1 when the plane completes the volume, else 0.
 */
export function checkPlane(info: SeriesInfo, cursor: SeriesCursor, depth: number, plane: ArrayBufferView, timestamps: ArrayLike<number> | undefined): number {
  const [height, width, depths] = info.rowShape;
  if (info.rowShape.length !== 3) throw new NwbInputError(`${info.name}: appending planes needs a volumetric series, not samples of ${shapeText(info.rowShape)}`);
  if (depth !== cursor.planes) throw new NwbInputError(`${info.name}: expected plane ${cursor.planes} of volume ${cursor.rows}, got plane ${depth}`);
  if (checkSamples(info.name, info.type, [height!, width!], plane) !== 1) throw new NwbInputError(`${info.name}: each plane must be one ${height}×${width} image`);
  if (depth < depths! - 1) {
    if (timestamps) throw new NwbInputError(`${info.name}: a volume's timestamp comes with its last plane (${depths! - 1}), not with plane ${depth}`);
    return 0;
  }
  checkTimestamps(info, cursor, 1, timestamps);
  return 1;
}

/** Counts an append of `rows` samples (0: a plane that did not complete its volume). */
export function advance(cursor: SeriesCursor, rows: number, timestamps: ArrayLike<number> | undefined): void {
  if (rows === 0) {
    cursor.planes++;
    return;
  }
  cursor.planes = 0;
  cursor.rows += rows;
  if (timestamps && timestamps.length) cursor.lastTime = timestamps[timestamps.length - 1]!;
}
