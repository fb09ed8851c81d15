// One NWB file being written, synchronously, with h5wasm. It lays every object out as pynwb does
// (see shared/reference/reference-structure.txt); the async NwbWriter runs it in a worker thread.
import { randomUUID } from "node:crypto";
import type { z } from "zod";
import { fstatSync, fsync, fsyncSync, statSync } from "node:fs";
import { type DirectWrites, unwatchDirectWrites, watchDirectWrites } from "./direct-writes.js";
import { promisify } from "node:util";
import { advance, checkAppend, checkPlane, checkPlanes, type SeriesCursor, type SeriesInfo, startCursor } from "./append-check.js";
import { NwbInputError, parseInput } from "./errors.js";
import { WriteLock } from "./lock.js";
import { DEFAULT_RESERVE_BYTES, Reserve } from "./disk.js";
import { WriteError, type WriteFailure } from "./failure.js";
import {
  ELEMENT_TYPES,
  File,
  type Dataset,
  type Group,
  type H5Object,
  type NumericArray,
  float64ScalarDataset,
  floatArrayAttr,
  floatAttr,
  growingDataset,
  growingTextDataset,
  int64Attr,
  loadHdf5,
  numericDataset,
  releaseLeakedFiles,
  referenceAttr,
  textArrayAttr,
  textArrayDataset,
  textAttr,
  textDataset,
  readText,
  writeRows,
  writeText,
  type ElementType,
} from "./hdf5.js";
import { chooseChunkShape, chooseVolumeChunkShape, GrowingDataset, SMALL_CHUNK_BYTES } from "./growing.js";
import { imageToPixel, pixelToImage, volumeToVoxel, voxelToVolume } from "./masks.js";
import * as M from "./model.js";
import { EVENTS_NAME } from "./model.js";
import { cachedNamespaces } from "./specs.js";
import { isoNow } from "./time.js";
import packageJson from "../../package.json" with { type: "json" };

const fsyncAsync = promisify(fsync);

const NAMESPACE_OF: Record<string, string> = {};
for (const [ns, types] of Object.entries({
  core: ["NWBFile", "Subject", "ProcessingModule", "TimeSeries", "AnnotationSeries", "Images", "GrayscaleImage"],
  "hdmf-common": ["VectorData", "VectorIndex", "ElementIdentifiers", "DynamicTableRegion"],
  "ndx-ophys-devices": [
    "ExcitationSourceModel", "ExcitationSource", "PulsedExcitationSource", "PhotodetectorModel", "Photodetector",
    "DichroicMirrorModel", "DichroicMirror", "OpticalFilterModel", "OpticalFilter", "BandOpticalFilterModel",
    "BandOpticalFilter", "EdgeOpticalFilterModel", "EdgeOpticalFilter", "OpticalLensModel", "OpticalLens", "Indicator",
  ],
  "ndx-microscopy": [
    "MicroscopeModel", "Microscope", "MicroscopyRig", "MicroscopyChannel", "LineScan", "PlaneAcquisition",
    "RandomAccessScan", "PlanarImagingSpace", "VolumetricImagingSpace", "PlanarMicroscopySeries",
    "VolumetricMicroscopySeries", "MultiPlaneMicroscopyContainer", "MultiChannelMicroscopyContainer",
    "SegmentationContainer", "SummaryImage", "PlanarSegmentation", "VolumetricSegmentation",
    "MicroscopyResponseSeries", "MicroscopyResponseSeriesContainer",
  ],
})) for (const t of types) NAMESPACE_OF[t] = ns;

/** Marks an HDF5 object as an NWB type: namespace, neurodata_type and a fresh UUID4 object_id. */
function markType(obj: H5Object, neurodataType: string): void {
  const ns = NAMESPACE_OF[neurodataType];
  if (!ns) throw new Error(`no namespace known for ${neurodataType}`);
  textAttr(obj, "namespace", ns);
  textAttr(obj, "neurodata_type", neurodataType);
  textAttr(obj, "object_id", randomUUID());
}

function typedGroup(parent: Group, name: string, neurodataType: string): Group {
  const g = parent.create_group(name);
  markType(g, neurodataType);
  return g;
}

/** `/general/source_script`'s `file_name` in every file rigd writes; its text is "rigd VERSION". */
export const SOURCE_SCRIPT = "rigd";

/**
 * Where a file says it was closed: core's `/general/data_collection` ("notes about data collection"),
 * written last by a normal close or by `rigd recover`, its text beginning "rigd". A rigd file without it
 * was left by a crash (or is still being written).
 */
export const CLOSING_NOTE_PATH = "general/data_collection";

export function writeClosingNote(root: Group, text: string): void {
  textDataset(root.get("general") as Group, "data_collection", `${SOURCE_SCRIPT} ${packageJson.version}: ${text}`);
}

/** Creates the event record, /acquisition/rig_events: an AnnotationSeries of no entries yet. */
export function createEventRecord(root: Group): { text: Dataset; timestamps: Dataset } {
  const g = typedGroup(root.get("acquisition") as Group, EVENTS_NAME, "AnnotationSeries");
  textAttr(g, "comments", "Each entry reads 'kind [source] message'.");
  textAttr(g, "description", "Rig events recorded by rigd: device faults, dropped-frame gaps, reconnects and user marks.");
  const text = growingTextDataset(g, "data");
  floatAttr(text, "conversion", 1);
  floatAttr(text, "offset", 0);
  floatAttr(text, "resolution", -1);
  textAttr(text, "unit", "n/a");
  const timestamps = growingDataset(g, "timestamps", { rowShape: [], type: "float64", chunks: chooseChunkShape([], "float64", SMALL_CHUNK_BYTES) });
  int64Attr(timestamps, "interval", 1);
  textAttr(timestamps, "unit", "seconds");
  return { text, timestamps };
}

/** Writes plain fields as attributes: text as UTF-8 scalars, numbers as float64, number lists as float64 arrays. */
function writeAttributes(obj: H5Object, fields: Record<string, unknown>, skip: readonly string[]): void {
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || skip.includes(key)) continue;
    if (typeof value === "string") textAttr(obj, key, value);
    else if (typeof value === "number") floatAttr(obj, key, value);
    else if (Array.isArray(value) && value.every((v) => typeof v === "number")) floatArrayAttr(obj, key, value);
    else throw new Error(`field ${key} has no attribute form`);
  }
}

const SEGMENTATION_COLUMNS = {
  image_mask:
    "ROI masks for each ROI. Each image mask is the size of the original planar imaging space and members of the ROI are finite non-zero.",
  pixel_mask:
    "Pixel masks for each ROI: a list of indices and weights for the ROI. Pixel masks are concatenated and parsing of this dataset is maintained by the PlanarSegmentation",
  volume_mask:
    "ROI masks for each ROI. Each image mask is the size of the original volumetric imaging space and members of the ROI are finite non-zero.",
  voxel_mask:
    "Voxel masks for each ROI: a list of indices and weights for the ROI. Voxel masks are concatenated and parsing of this dataset is maintained by the PlanarSegmentation",
} as const;

type Nested = number[] | Nested[];

/** How each segmentation kind names and converts its masks (ndx-microscopy 0.3.0). */
const SEGMENTATION_KINDS = {
  PlanarSegmentation: {
    space: "PlanarImagingSpace", dims: "dimensions_in_pixels", dense: "image_mask", sparse: "pixel_mask",
    element: "pixel", axes: ["x", "y"], toSparse: imageToPixel, toDense: pixelToImage,
  },
  VolumetricSegmentation: {
    space: "VolumetricImagingSpace", dims: "dimensions_in_voxels", dense: "volume_mask", sparse: "voxel_mask",
    element: "voxel", axes: ["x", "y", "z"], toSparse: volumeToVoxel, toDense: voxelToVolume,
  },
} as const;

/** The shape of a nested array of `rank` levels, read along its first elements. */
function nestedShape(a: Nested, rank: number): number[] {
  const shape: number[] = [];
  let level: Nested | number | undefined = a;
  for (let i = 0; i < rank; i++) {
    shape.push(Array.isArray(level) ? level.length : 0);
    level = Array.isArray(level) ? level[0] : undefined;
  }
  return shape;
}

/** An object declared once and written where it is first used; later users soft-link to it. */
interface Placed<T> {
  spec: T;
  path?: string;
}

type ParsedSpace = z.output<typeof M.ImagingSpace>;
type ParsedRig = z.output<typeof M.MicroscopyRig>;
type ParsedChannel = z.output<typeof M.MicroscopyChannel>;
/**
 * A growing series, validated and named when it is created; its HDF5 objects are written with its first
 * sample, so a series that never gets one is not in the file (nwbinspector fails an empty series).
 */
interface Declared {
  info: SeriesInfo;
  cursor: SeriesCursor;
  /** For a response series sharing its source's timestamps: it may not get ahead of them. */
  clockSource?: Declared;
  /** Writes the series' group, data and clock; called once, by the first append. */
  write: () => { data: GrowingDataset; timestamps?: GrowingDataset };
}

/** A growing series in the file: its data (and own timestamps) grown in lockstep. */
interface Recorder extends Declared {
  data: GrowingDataset;
  timestamps?: GrowingDataset;
}

/** The event record, and its newest entries kept so that a late one can be put in its place in time. */
interface EventRecord {
  text: Dataset;
  timestamps: Dataset;
  count: number;
  /** The last entries as they are in the file (rows count − tail.length …): at most EVENT_TAIL_ENTRIES, within EVENT_TAIL_S of the newest. */
  tail: { time: number; text: string }[];
  /** Time (s) of the last entry before the tail (−∞ if none): no entry can go in before it any more. */
  floor: number;
}

/** How far back (s) and how many of the newest events are kept to insert a late event at its place. */
const EVENT_TAIL_S = 60;
const EVENT_TAIL_ENTRIES = 1000;

interface SegmentationRecord {
  path: string;
  neurodata_type: "PlanarSegmentation" | "VolumetricSegmentation";
  rows: number;
}

export interface OpenOptions {
  /** Replace an existing file at the path; without it an existing file is an error. */
  overwrite?: boolean;
  /**
   * Bytes kept beside the file (".NAME.rigd-reserve-PID") and given back when a write fails, so that a full
   * disk still has room to close the file properly (default DEFAULT_RESERVE_BYTES, 8 MiB; 0 keeps none).
   */
  reserveBytes?: number;
}

/** What a checkpoint made durable: samples per series and entries in the event record. */
export interface CheckpointReport {
  /** Samples in the file, per series that has any. */
  samples: Record<string, number>;
  events: number;
  /** Series created that have no sample yet, so are not in the file (at close: never will be). */
  empty: string[];
  /**
   * Rigs, channels and imaging spaces added that no written series or segmentation uses yet: NWB keeps them
   * inside what uses them, so they are not in the file (at close: never will be).
   */
  unused: string[];
  /** Bytes of data written so far around the page cache (direct-writes.ts); 0 where the file system refuses it. */
  directBytes: number;
  /** When it was made durable: ms since the Unix epoch (Date.now()). */
  time: number;
}

/** What a checkpoint's flush put in the file, before its fsync; `flush` numbers it. */
type Flushed = Omit<CheckpointReport, "time"> & { flush: number };

/**
 * Runs a step of cleaning up after a failure: a reserve or lock that cannot be let go (a file system gone
 * read-only), or writes a failure stopped that fail again as leaked descriptors close, add nothing to the
 * failure being reported.
 */
function quietly(step: () => void): void {
  try {
    step();
  } catch {
    // see above
  }
}

export class NwbFile {
  private readonly devices = new Map<string, M.Device>();
  private readonly rigs = new Map<string, Placed<ParsedRig>>();
  private readonly channels = new Map<string, Placed<ParsedChannel>>();
  private readonly spaces = new Map<string, Placed<ParsedSpace>>();
  /** Containers added, by name; each is written with the first series written into it. */
  private readonly containers = new Map<string, { neurodata_type: string; group?: Group }>();
  /** Every series created, by name; `recorders` holds those written (with a sample) so far. */
  private readonly series = new Map<string, Declared>();
  private readonly recorders = new Map<string, Recorder>();
  private readonly segmentations = new Map<string, SegmentationRecord>();
  private events?: EventRecord;
  /** The lock's descriptor also fsyncs the file: h5wasm's flush hands data to the OS. */
  private readonly fd: number;
  private closed = false;
  /** What the file holds for sure: the last checkpoint that completed. */
  private saved: CheckpointReport = { samples: {}, events: 0, empty: [], unused: [], directBytes: 0, time: Date.now() };
  /** Flushes begun, and the one `saved` is from: checkpoints in the background may end out of order. */
  private flushes = 0;
  private savedFlush = 0;
  private failure?: WriteFailure;

  private constructor(
    readonly path: string,
    private readonly file: InstanceType<typeof File>,
    private readonly lock: WriteLock,
    private readonly reserve: Reserve,
    /** How its frame data is written: around the page cache (direct-writes.ts), or why not. */
    readonly directWrites: DirectWrites,
  ) {
    this.fd = lock.fd;
  }

  static async create(path: string, metadata: M.NwbFileMetadata, options: OpenOptions = {}): Promise<NwbFile> {
    await loadHdf5();
    const meta = parseInput(M.NwbFileMetadata, metadata, "NWB file metadata");
    // Locked before HDF5 truncates it: a second writer is refused before it can touch the file.
    const lock = WriteLock.take(path, { overwrite: options.overwrite ?? false });
    let file: InstanceType<typeof File>;
    let reserve: Reserve | undefined;
    let direct: DirectWrites;
    try {
      reserve = Reserve.create(path, options.reserveBytes ?? DEFAULT_RESERVE_BYTES);
      // Bounds as pynwb/h5py write them: HDF5 1.10 readers must open the file.
      direct = watchDirectWrites(path);
      try {
        file = new File(path, "w", { libver: ["earliest", "v110"] });
      } finally {
        unwatchDirectWrites(path);
      }
    } catch (e) {
      reserve?.release();
      lock.discard();
      throw e;
    }
    const nwb = new NwbFile(path, file, lock, reserve, direct);
    try {
      nwb.writeSkeleton(meta);
      file.flush();
      await direct.running(); // so the first frames go direct too (the thread starts in 60 ms from dist/, 1–2 s under tsx)
    } catch (e) {
      nwb.abandon({ remove: true });
      throw e;
    }
    return nwb;
  }

  // ------------------------------------------------------------------ file skeleton

  private writeSkeleton(meta: z.output<typeof M.NwbFileMetadata>): void {
    const root = this.file;
    markType(root, "NWBFile");
    textAttr(root, "nwb_version", "2.7.0");
    textDataset(root, "identifier", meta.identifier ?? randomUUID());
    textDataset(root, "session_description", meta.session_description);
    textDataset(root, "session_start_time", meta.session_start_time, "ascii");
    textDataset(root, "timestamps_reference_time", meta.timestamps_reference_time ?? meta.session_start_time, "ascii");
    textArrayDataset(root, "file_create_date", [isoNow()], "ascii");
    for (const g of ["acquisition", "analysis", "processing"]) root.create_group(g);
    const stimulus = root.create_group("stimulus");
    stimulus.create_group("presentation");
    stimulus.create_group("templates");

    const general = root.create_group("general");
    general.create_group("devices");
    // What wrote the file, as pynwb writes NWBFile.source_script(_file_name): how `rigd recover` knows its own files.
    textAttr(textDataset(general, "source_script", `${SOURCE_SCRIPT} ${packageJson.version}`), "file_name", SOURCE_SCRIPT);
    for (const key of ["experiment_description", "institution", "lab", "session_id"] as const) {
      const value = meta[key];
      if (value !== undefined) textDataset(general, key, value);
    }
    for (const key of ["experimenter", "keywords"] as const) {
      const value = meta[key];
      if (value !== undefined) textArrayDataset(general, key, value);
    }
    if (meta.subject) {
      const { age__reference, ...fields } = meta.subject;
      const subject = typedGroup(general, "subject", "Subject");
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        const ds = textDataset(subject, key, value, key === "date_of_birth" ? "ascii" : "utf-8");
        if (key === "age") textAttr(ds, "reference", age__reference);
      }
    }

    const specifications = root.create_group("specifications");
    for (const ns of cachedNamespaces()) {
      const version = specifications.create_group(ns.name).create_group(ns.version);
      for (const [source, json] of ns.sources) textDataset(version, source, json);
    }
    referenceAttr(root, ".specloc", specifications);
  }

  // ------------------------------------------------------------------ devices and metadata objects

  addDevice(device: M.Device): void {
    const d = parseInput(M.Device, device, `device ${describe(device)}`);
    this.requireNewName(this.devices, d.name, "device");
    if ("model" in d && d.model !== undefined) {
      const model = this.devices.get(d.model);
      const allowed = M.MODEL_OF_INSTANCE[d.neurodata_type as keyof typeof M.MODEL_OF_INSTANCE];
      if (!model) throw new NwbInputError(`${d.neurodata_type} '${d.name}': model '${d.model}' is not a device added before`);
      if (!allowed.includes(model.neurodata_type as never)) {
        throw new NwbInputError(`${d.neurodata_type} '${d.name}': model '${d.model}' is a ${model.neurodata_type}, expected ${allowed.join(" or ")}`);
      }
    }
    const g = typedGroup(this.file.get("general/devices") as Group, d.name, d.neurodata_type);
    writeAttributes(g, d, ["name", "neurodata_type", "model"]);
    if ("model" in d && d.model !== undefined) g.create_soft_link(`/general/devices/${d.model}`, "model");
    this.devices.set(d.name, d);
  }

  addRig(rig: M.MicroscopyRig): void {
    const r = parseInput(M.MicroscopyRig, rig, `MicroscopyRig ${describe(rig)}`);
    this.requireNewName(this.rigs, r.name, "MicroscopyRig");
    for (const [link, types] of Object.entries(M.RIG_LINKS)) {
      const target = r[link as keyof typeof M.RIG_LINKS];
      if (target === undefined) continue;
      const device = this.devices.get(target);
      if (!device) throw new NwbInputError(`MicroscopyRig '${r.name}': ${link} '${target}' is not a device added before`);
      if (!(types as readonly string[]).includes(device.neurodata_type)) {
        throw new NwbInputError(`MicroscopyRig '${r.name}': ${link} '${target}' is a ${device.neurodata_type}, expected ${types.join(" or ")}`);
      }
    }
    this.rigs.set(r.name, { spec: r });
  }

  addChannel(channel: M.MicroscopyChannel): void {
    const c = parseInput(M.MicroscopyChannel, channel, `MicroscopyChannel ${describe(channel)}`);
    this.requireNewName(this.channels, c.name, "MicroscopyChannel");
    this.channels.set(c.name, { spec: c });
  }

  addImagingSpace(space: M.ImagingSpace): void {
    const s = parseInput(M.ImagingSpace, space, `imaging space ${describe(space)}`);
    this.requireNewName(this.spaces, s.name, "imaging space");
    this.spaces.set(s.name, { spec: s });
  }

  addContainer(container: M.MicroscopyContainer): void {
    const c = parseInput(M.MicroscopyContainer, container, "microscopy container");
    const name = c.name ?? c.neurodata_type;
    this.requireNewName(this.containers, name, c.neurodata_type);
    this.requireFreeInAcquisition(name);
    // Written with its first series (containerGroup): a container of no series would break its "+" rule.
    this.containers.set(name, { neurodata_type: c.neurodata_type });
  }

  /** The group of a container added before, written now if this is its first series. */
  private containerGroup(name: string): Group {
    const c = this.containers.get(name)!;
    c.group ??= typedGroup(this.file.get("acquisition") as Group, name, c.neurodata_type);
    return c.group;
  }

  private requireNewName(registry: Map<string, unknown>, name: string, what: string): void {
    if (registry.has(name)) throw new NwbInputError(`${what} '${name}' was added already`);
  }

  private requireFreeInAcquisition(name: string): void {
    if (this.series.has(name) || this.containers.has(name) || name === EVENTS_NAME) {
      throw new NwbInputError(`/acquisition/${name} exists already: names of series and containers must be unique`);
    }
  }

  /** Writes a declared object inside `parent` on first use, or soft-links to where it was written. */
  private placeOrLink<T extends { name: string }>(parent: Group, placed: Placed<T>, write: (g: Group) => void): void {
    if (placed.path) {
      parent.create_soft_link(placed.path, placed.spec.name);
      return;
    }
    write(parent);
    placed.path = `${parent.path === "/" ? "" : parent.path}/${placed.spec.name}`;
  }

  private writeRig(parent: Group, r: ParsedRig): void {
    const g = typedGroup(parent, r.name, "MicroscopyRig");
    textAttr(g, "description", r.description);
    for (const link of Object.keys(M.RIG_LINKS) as (keyof typeof M.RIG_LINKS)[]) {
      const target = r[link];
      if (target !== undefined) g.create_soft_link(`/general/devices/${target}`, link);
    }
  }

  private writeChannel(parent: Group, c: ParsedChannel): void {
    const g = typedGroup(parent, c.name, "MicroscopyChannel");
    // MicroscopyChannel declares `name` as an attribute too (ndx-microscopy 0.3.0).
    writeAttributes(g, c, ["indicator"]);
    const { name, ...indicator } = c.indicator;
    writeAttributes(typedGroup(g, name, "Indicator"), indicator, []);
  }

  private writeImagingSpace(parent: Group, s: ParsedSpace): void {
    const g = typedGroup(parent, s.name, s.neurodata_type);
    writeAttributes(g, { description: s.description, location: s.location, reference_frame: s.reference_frame, orientation: s.orientation }, []);
    const { name: patternName, neurodata_type: patternType, ...pattern } = s.illumination_pattern;
    writeAttributes(typedGroup(g, patternName, patternType), pattern, []);
    if (s.origin_coordinates) {
      textAttr(numericDataset(g, "origin_coordinates", new Float64Array(s.origin_coordinates), [3]), "unit", s.origin_coordinates__unit);
    }
    const [size, sizeName, dims, dimsName] =
      s.neurodata_type === "PlanarImagingSpace"
        ? [s.pixel_size_in_um, "pixel_size_in_um", s.dimensions_in_pixels, "dimensions_in_pixels"]
        : [s.voxel_size_in_um, "voxel_size_in_um", s.dimensions_in_voxels, "dimensions_in_voxels"];
    if (size) numericDataset(g, sizeName, new Float64Array(size), [size.length]);
    if (dims) numericDataset(g, dimsName, new Uint32Array(dims), [dims.length]);
  }

  private lookup<T>(registry: Map<string, T>, name: string, owner: string, what: string): T {
    const found = registry.get(name);
    if (!found) throw new NwbInputError(`${owner}: ${what} '${name}' was not added (known: ${[...registry.keys()].join(", ") || "none"})`);
    return found;
  }

  // ------------------------------------------------------------------ growing series

  createPlanarSeries(series: M.PlanarMicroscopySeries): SeriesInfo {
    return this.createMicroscopySeries("PlanarMicroscopySeries", parseInput(M.PlanarMicroscopySeries, series, `PlanarMicroscopySeries ${describe(series)}`));
  }

  createVolumetricSeries(series: M.VolumetricMicroscopySeries): SeriesInfo {
    return this.createMicroscopySeries(
      "VolumetricMicroscopySeries",
      parseInput(M.VolumetricMicroscopySeries, series, `VolumetricMicroscopySeries ${describe(series)}`),
    );
  }

  private createMicroscopySeries(
    type: "PlanarMicroscopySeries" | "VolumetricMicroscopySeries",
    s: z.output<typeof M.PlanarMicroscopySeries> | z.output<typeof M.VolumetricMicroscopySeries>,
  ): SeriesInfo {
    const owner = `${type} '${s.name}'`;
    const rig = this.lookup(this.rigs, s.microscopy_rig, owner, "MicroscopyRig");
    const channel = this.lookup(this.channels, s.microscopy_channel, owner, "MicroscopyChannel");
    const space = this.lookup(this.spaces, s.imaging_space, owner, "imaging space");
    const wantedSpace = type === "PlanarMicroscopySeries" ? "PlanarImagingSpace" : "VolumetricImagingSpace";
    if (space.spec.neurodata_type !== wantedSpace) {
      throw new NwbInputError(`${owner}: imaging space '${s.imaging_space}' is a ${space.spec.neurodata_type}, expected a ${wantedSpace}`);
    }
    // Imaging spaces store [x, y(, z)] = [width, height(, depths)]; frames are [height, width(, depths)].
    const [h, w, d] = s.frame_shape;
    const expected = d === undefined ? [w, h] : [w, h, d];
    const dims = space.spec.neurodata_type === "PlanarImagingSpace" ? space.spec.dimensions_in_pixels : space.spec.dimensions_in_voxels;
    if (dims && dims.join() !== expected.join()) {
      throw new NwbInputError(
        `${owner}: frame_shape [${s.frame_shape.join(", ")}] (height, width${d === undefined ? "" : ", depths"}) does not match imaging space '${s.imaging_space}' dimensions [${dims.join(", ")}] (x, y${d === undefined ? "" : ", z"})`,
      );
    }
    if (s.container !== undefined) this.lookup(this.containers, s.container, owner, "container");
    else this.requireFreeInAcquisition(s.name);
    if (this.series.has(s.name)) throw new NwbInputError(`${owner}: a series named '${s.name}' exists already`);

    const parentPath = s.container === undefined ? "/acquisition" : `/acquisition/${s.container}`;
    const dataAttrs = { conversion: s.conversion, offset: s.offset, resolution: s.resolution, unit: s.unit };
    return this.declare(`${parentPath}/${s.name}`, type, s, [...s.frame_shape], s.data_type, dataAttrs, () => {
      const parent = s.container === undefined ? (this.file.get("acquisition") as Group) : this.containerGroup(s.container);
      const g = typedGroup(parent, s.name, type);
      textAttr(g, "comments", s.comments ?? "no comments");
      textAttr(g, "description", s.description);
      // The first series written holds them, as pynwb places them; later ones link to it.
      this.placeOrLink(g, rig, (p) => this.writeRig(p, rig.spec));
      this.placeOrLink(g, channel, (p) => this.writeChannel(p, channel.spec));
      this.placeOrLink(g, space, (p) => this.writeImagingSpace(p, space.spec));
      return g;
    });
  }

  createTelemetrySeries(series: M.TelemetrySeries): SeriesInfo {
    const s = parseInput(M.TelemetrySeries, series, `TimeSeries ${describe(series)}`);
    if (s.module === undefined) this.requireFreeInAcquisition(s.name);
    else if (this.series.has(s.name) || ((this.file.get("processing") as Group).get(s.module) as Group | null)?.keys().includes(s.name)) {
      throw new NwbInputError(`/processing/${s.module}/${s.name} exists already: names of series must be unique`);
    }
    const path = s.module === undefined ? `/acquisition/${s.name}` : `/processing/${s.module}/${s.name}`;
    return this.declare(path, "TimeSeries", s, s.columns === undefined ? [] : [s.columns], "float64", { conversion: 1, offset: 0, resolution: -1, unit: s.unit }, () => {
      const parent = s.module === undefined ? (this.file.get("acquisition") as Group) : this.processingModule(s.module);
      const g = typedGroup(parent, s.name, "TimeSeries");
      textAttr(g, "comments", s.comments ?? "no comments");
      textAttr(g, "description", s.description);
      if (s.continuity) textAttr(g, "continuity", s.continuity);
      return g;
    });
  }

  /**
   * Validates a growing series (its chunk shape) and registers it at `path`. Nothing is written yet:
   * its first append calls `group` to write the series' group (and what it holds or links), then
   * writes data and timestamps or starting_time inside.
   */
  private declare(
    path: string,
    type: string,
    s: { name: string; clock: M.Clock | "source"; storage: z.output<typeof M.Storage> },
    rowShape: number[],
    elementType: ElementType,
    dataAttrs: { conversion: number; offset: number; resolution: number; unit: string },
    group: () => Group,
    clockSource?: Declared,
  ): SeriesInfo {
    const storage = s.storage;
    // Small samples (timestamps, telemetry, ROI traces) grow a few bytes at a time: small chunks suit them.
    const rowBytes = rowShape.reduce((a, b) => a * b, 1) * ELEMENT_TYPES[elementType].bytes;
    const chunkBytes = rowBytes < 4096 ? SMALL_CHUNK_BYTES : storage.chunkBytes;
    const volumetric = type === "VolumetricMicroscopySeries";
    const chunks = storage.chunkShape ?? (volumetric ? chooseVolumeChunkShape : chooseChunkShape)(rowShape, elementType, chunkBytes);
    if (chunks.length !== rowShape.length + 1 || chunks.slice(1).some((c, i) => c > rowShape[i]!)) {
      throw new NwbInputError(`${type} '${s.name}': chunkShape [${chunks.join(", ")}] does not fit samples of [${rowShape.join(", ")}]`);
    }
    if (volumetric && (chunks[0] !== 1 || chunks[3] !== 1)) {
      throw new NwbInputError(`${type} '${s.name}': chunkShape [${chunks.join(", ")}] must be one sample and one depth plane, [1, rows, columns, 1]: planes are written as they arrive`);
    }
    const clock = s.clock;
    const timestamped = clock !== "source" && "timestamps" in clock;
    const info: SeriesInfo = { name: s.name, path, neurodata_type: type, rowShape, type: elementType, timestamped, chunkShape: chunks };
    const write = () => {
      const g = group();
      const data = growingDataset(g, "data", { rowShape, type: elementType, chunks, gzipLevel: storage.gzipLevel });
      floatAttr(data, "conversion", dataAttrs.conversion);
      floatAttr(data, "offset", dataAttrs.offset);
      floatAttr(data, "resolution", dataAttrs.resolution);
      textAttr(data, "unit", dataAttrs.unit);
      const written = { data: new GrowingDataset(data, rowShape, elementType, chunks) };
      if (clock === "source") {
        // The source is written: this series may not have more samples than it.
        if (clockSource!.info.timestamped) g.create_soft_link(`${clockSource!.info.path}/timestamps`, "timestamps");
        else this.copyRegularClock(clockSource!, g);
      } else if (timestamped) {
        const tsChunks = chooseChunkShape([], "float64", SMALL_CHUNK_BYTES);
        const ts = growingDataset(g, "timestamps", { rowShape: [], type: "float64", chunks: tsChunks });
        int64Attr(ts, "interval", 1);
        textAttr(ts, "unit", "seconds");
        return { ...written, timestamps: new GrowingDataset(ts, [], "float64", tsChunks) };
      } else {
        const start = float64ScalarDataset(g, "starting_time", clock.starting_time);
        floatAttr(start, "rate", clock.rate);
        textAttr(start, "unit", "seconds");
      }
      return written;
    };
    this.series.set(s.name, { info, cursor: startCursor(), write, ...(clock === "source" ? { clockSource: clockSource! } : {}) });
    return info;
  }

  /** Writes a series' HDF5 objects, with its first sample; from then on checkpoints flush it. */
  private writeSeries(declared: Declared): Recorder {
    // The same object: a response series' clockSource stays the series it shares timestamps with.
    const recorder: Recorder = Object.assign(declared, declared.write());
    this.recorders.set(declared.info.name, recorder);
    return recorder;
  }

  private copyRegularClock(source: Declared, g: Group): void {
    const start = this.file.get(`${source.info.path}/starting_time`) as Dataset;
    const copy = float64ScalarDataset(g, "starting_time", start.value as number);
    floatAttr(copy, "rate", start.attrs["rate"]!.value as number);
    textAttr(copy, "unit", "seconds");
  }

  /** Appends samples (and their timestamps, for a timestamped series) to a series. */
  append(seriesName: string, data: NumericArray, timestamps?: ArrayLike<number>): void {
    this.appendTo(seriesName, timestamps, (r) => checkAppend(r.info, r.cursor, data, timestamps), (w, rows) => w.data.append(data, rows));
  }

  /**
   * Appends one volume of a volumetric series as its depth planes, each height × width; none is interleaved.
   * `planeWritten(d)` is called as soon as plane d is written.
   */
  appendVolume(seriesName: string, planes: readonly NumericArray[], timestamps?: ArrayLike<number>, planeWritten?: (d: number) => void): void {
    this.appendTo(
      seriesName,
      timestamps,
      (r) => (checkPlanes(r.info, r.cursor, planes, timestamps), 1),
      (w) => w.data.appendPlanes(planes, planeWritten),
    );
  }

  /**
   * Writes plane `depth` of the next volume of a volumetric series, planes in order 0, 1, … as they come (a
   * camera's), so that none waits for the volume to be whole. The volume counts once its last plane is written,
   * with `timestamps` (one, if the series has them): until then a checkpoint does not count it, and a crash
   * leaves its planes past the last timestamp, where rigd recover cuts them. dropPartialVolume() takes it back.
   */
  appendPlane(seriesName: string, depth: number, plane: NumericArray, timestamps?: ArrayLike<number>): void {
    this.appendTo(
      seriesName,
      timestamps,
      (r) => checkPlane(r.info, r.cursor, depth, plane, timestamps),
      (w, rows) => {
        w.data.writePlane(depth, plane);
        if (rows) w.data.commitRow();
      },
    );
  }

  /** Takes back the planes appendPlane() wrote of a volume that will not be whole; nothing if there are none. */
  dropPartialVolume(seriesName: string): void {
    const r = this.recorders.get(seriesName);
    if (!r || r.cursor.planes === 0) return;
    this.requireOpen();
    try {
      r.data.dropRow();
    } catch (e) {
      throw WriteError.from(`writing ${seriesName}`, e);
    }
    r.cursor.planes = 0;
  }

  /** Samples of a series appended so far (0 before its first). */
  appendedRows(seriesName: string): number {
    return this.recorders.get(seriesName)?.data.length ?? 0;
  }

  /** Of the samples appended to a series, those written into the file: the rest wait to be written in a batch, at the latest by the next checkpoint. */
  writtenRows(seriesName: string): number {
    return this.recorders.get(seriesName)?.data.lengthInFile ?? 0;
  }

  private appendTo(seriesName: string, timestamps: ArrayLike<number> | undefined, check: (r: Declared) => number, write: (w: Recorder, rows: number) => void): void {
    const r = this.series.get(seriesName);
    if (!r) throw new NwbInputError(`append: no series named '${seriesName}' (known: ${[...this.series.keys()].join(", ") || "none"})`);
    const rows = check(r);
    if (r.clockSource && r.cursor.rows + rows > r.clockSource.cursor.rows) {
      throw new NwbInputError(
        `${seriesName}: shares the timestamps of '${r.clockSource.info.name}', which has ${r.clockSource.cursor.rows} samples; ${r.cursor.rows + rows} would run past them`,
      );
    }
    this.requireOpen();
    try {
      const w = this.recorders.get(seriesName) ?? this.writeSeries(r);
      write(w, rows);
      if (w.timestamps && rows) w.timestamps.append(Float64Array.from(timestamps!), rows);
    } catch (e) {
      throw e instanceof NwbInputError ? e : WriteError.from(`writing ${seriesName}`, e);
    }
    advance(r.cursor, rows, timestamps);
  }

  // ------------------------------------------------------------------ events

  /**
   * Adds entries to the event record, /acquisition/rig_events (created with the first entry), each at its
   * place in time: an entry older than the last ones written goes in among them and the rows after it are
   * rewritten, so callers need not hold events back to sort them. One older than the entries kept for this
   * (the last EVENT_TAIL_S seconds, at most EVENT_TAIL_ENTRIES) goes in at the earliest time still open,
   * its message saying how late it came. A batch is written in one go (one write of texts, one of times):
   * entry by entry, a burst of 10 000 marks took 80 s.
   */
  addEvents(events: readonly M.RigEvent[]): void {
    const batch = events.map((event) => parseInput(M.RigEvent, event, "rig event"));
    if (batch.length === 0) return;
    const ev = (this.events ??= { ...createEventRecord(this.file), count: 0, tail: [], floor: -Infinity });
    const before = ev.count;
    /** The first row of the tail that changes: from there on, rows are written anew. */
    let from = ev.tail.length;
    for (const e of batch) {
      let time = e.time;
      let text = `${e.kind} [${e.source}] ${e.message}`;
      if (time < ev.floor) {
        text += ` (late by ${(ev.floor - time).toFixed(3)} s: it happened at ${time.toFixed(3)} s)`;
        time = ev.floor;
      }
      // After every entry at or before its time: entries of equal time keep their order of arrival.
      let at = ev.tail.length;
      while (at > 0 && ev.tail[at - 1]!.time > time) at--;
      ev.tail.splice(at, 0, { time, text });
      from = Math.min(from, at);
      ev.count += 1;
    }
    const row = ev.count - ev.tail.length + from;
    const rewritten = ev.tail.slice(from);
    // Text and times of the same rows are written in one call, so the two never disagree in length.
    writeText(ev.text, row, rewritten.map((r) => r.text));
    writeRows(ev.timestamps, row, rewritten.length, [], Float64Array.from(rewritten, (r) => r.time));
    // A text chunk reaches the file at once, the strings it points to (HDF5's global heap) only at a flush:
    // until then a crash leaves rows rewritten here pointing at nothing. Flushing now (no fsync) shrinks that
    // window to this call. Appended rows need none: until a flush they lie past the extent in the file.
    if (row < before) this.file.flush();
    const newest = ev.tail[ev.tail.length - 1]!.time;
    while (ev.tail.length > EVENT_TAIL_ENTRIES || ev.tail[0]!.time < newest - EVENT_TAIL_S) ev.floor = ev.tail.shift()!.time;
  }

  // ------------------------------------------------------------------ segmentation and responses

  /** /processing/module, created on first use. */
  private processingModule(module: string): Group {
    const processing = this.file.get("processing") as Group;
    let m = processing.get(module) as Group | null;
    if (!m) {
      m = typedGroup(processing, module, "ProcessingModule");
      textAttr(m, "description", module === "ophys" ? "Optical physiology processed data." : `Processed data (${module}).`);
    }
    return m;
  }

  private processingGroup(module: string, container: string, containerType: string): Group {
    const m = this.processingModule(module);
    return this.existingContainer(module, container, containerType) ?? typedGroup(m, container, containerType);
  }

  /** /processing/module/container if it exists, refused if it is not a `containerType`. */
  private existingContainer(module: string, container: string, containerType: string): Group | null {
    const m = (this.file.get("processing") as Group).get(module) as Group | null;
    const c = m?.get(container) as Group | null | undefined;
    if (!c) return null;
    if (c.attrs["neurodata_type"]?.value !== containerType) {
      throw new NwbInputError(`/processing/${module}/${container} is a ${String(c.attrs["neurodata_type"]?.value)}, not a ${containerType}`);
    }
    return c;
  }

  addPlanarSegmentation(segmentation: M.PlanarSegmentation): void {
    this.addSegmentation("PlanarSegmentation", parseInput(M.PlanarSegmentation, segmentation, `PlanarSegmentation ${describe(segmentation)}`));
  }

  addVolumetricSegmentation(segmentation: M.VolumetricSegmentation): void {
    this.addSegmentation("VolumetricSegmentation", parseInput(M.VolumetricSegmentation, segmentation, `VolumetricSegmentation ${describe(segmentation)}`));
  }

  /** Both kinds alike: each ROI's mask is stored in every form any ROI was given in, converting the others. */
  private addSegmentation(
    type: keyof typeof SEGMENTATION_KINDS,
    s: z.output<typeof M.PlanarSegmentation> | z.output<typeof M.VolumetricSegmentation>,
  ): void {
    const kind = SEGMENTATION_KINDS[type];
    const owner = `${type} '${s.name}'`;
    if (this.segmentations.has(s.name)) throw new NwbInputError(`${owner}: a segmentation named '${s.name}' exists already`);
    const space = this.lookup(this.spaces, s.imaging_space, owner, "imaging space");
    if (space.spec.neurodata_type !== kind.space) {
      throw new NwbInputError(`${owner}: imaging space '${s.imaging_space}' is a ${space.spec.neurodata_type}, expected a ${kind.space}`);
    }
    const rois = s.rois.map((r) => ({ sparse: (r as Record<string, unknown>)[kind.sparse] as number[][] | undefined, dense: (r as Record<string, unknown>)[kind.dense] as Nested | undefined }));
    const dims = (space.spec as Record<string, unknown>)[kind.dims] as number[] | undefined;
    const shape = this.maskShape(owner, dims, rois.map((r) => r.dense && nestedShape(r.dense, kind.axes.length)));
    const rows = rois.map((r, i) => {
      const sparse = r.sparse ?? kind.toSparse(r.dense as never);
      if (sparse.length === 0) throw new NwbInputError(`${owner}: ROI ${i} mask has no ${kind.element} with a weight > 0`);
      for (const at of sparse) {
        if (at.slice(0, -1).some((c, axis) => c >= shape[axis]!)) {
          throw new NwbInputError(`${owner}: ROI ${i} ${kind.element} (${at.slice(0, -1).join(", ")}) lies outside [${shape.join(", ")}]`);
        }
      }
      const dense = ((r.dense ?? kind.toDense(r.sparse as never, shape as never)) as unknown[]).flat(kind.axes.length - 1) as number[];
      if (dense.length !== shape.reduce((a, b) => a * b, 1)) throw new NwbInputError(`${owner}: ROI ${i} mask is ragged: its rows differ in length`);
      return { sparse, dense };
    });
    this.writeSegmentation(s, type, space, {
      dense: rois.some((r) => r.dense) ? { name: kind.dense, shape, masks: rows.map((r) => r.dense) } : undefined,
      sparse: rois.some((r) => r.sparse) ? { name: kind.sparse, members: kind.axes, rows: rows.map((r) => r.sparse) } : undefined,
    });
  }

  /** The shape every dense mask has: the imaging space's dimensions, or the masks' own when it has none. */
  private maskShape(owner: string, dims: number[] | undefined, given: (number[] | undefined)[]): number[] {
    const shape = dims ?? given.find((g) => g);
    if (!shape) throw new NwbInputError(`${owner}: the imaging space has no dimensions and no ROI has a dense mask to take them from`);
    given.forEach((g, i) => {
      if (g && g.join() !== shape.join()) throw new NwbInputError(`${owner}: ROI ${i} mask is [${g.join(", ")}], expected [${shape.join(", ")}] (x, y${shape.length === 3 ? ", z" : ""})`);
    });
    return shape;
  }

  private writeSegmentation(
    s: z.output<typeof M.PlanarSegmentation> | z.output<typeof M.VolumetricSegmentation>,
    type: "PlanarSegmentation" | "VolumetricSegmentation",
    space: Placed<ParsedSpace>,
    columns: {
      dense: { name: "image_mask" | "volume_mask"; shape: number[]; masks: number[][] } | undefined;
      sparse: { name: "pixel_mask" | "voxel_mask"; members: readonly string[]; rows: number[][][] } | undefined;
    },
  ): void {
    const ids = s.rois.map((r, i) => r.id ?? i);
    if (new Set(ids).size !== ids.length) throw new NwbInputError(`${type} '${s.name}': ROI ids must be unique, got [${ids.join(", ")}]`);
    const container = this.processingGroup(s.module, s.container, "SegmentationContainer");
    const g = typedGroup(container, s.name, type);
    textAttr(g, "description", s.description);
    textArrayAttr(g, "colnames", [columns.dense?.name, columns.sparse?.name].flatMap((c) => (c ? [c] : [])));
    this.placeOrLink(g, space, (p) => this.writeImagingSpace(p, space.spec));

    markType(numericDataset(g, "id", BigInt64Array.from(ids, BigInt), [ids.length]), "ElementIdentifiers");
    if (columns.dense) {
      const { name, shape, masks } = columns.dense;
      const all = new Float32Array(masks.length * masks[0]!.length);
      masks.forEach((m, i) => all.set(m, i * m.length));
      const ds = numericDataset(g, name, all, [masks.length, ...shape]);
      markType(ds, "VectorData");
      textAttr(ds, "description", SEGMENTATION_COLUMNS[name]);
    }
    if (columns.sparse) {
      const { name, members, rows } = columns.sparse;
      const flat = rows.flat();
      const fields = new Map<string, Uint32Array | Float32Array>(members.map((m, k) => [m, Uint32Array.from(flat, (row) => row[k]!)]));
      fields.set("weight", Float32Array.from(flat, (row) => row[members.length]!));
      const ds = g.create_dataset({ name, data: fields });
      markType(ds, "VectorData");
      textAttr(ds, "description", SEGMENTATION_COLUMNS[name]);
      // The index uses the smallest unsigned type that holds it, as hdmf does.
      const ends: number[] = [];
      rows.reduce((end, r) => (ends.push(end + r.length), end + r.length), 0);
      const last = ends[ends.length - 1]!;
      const index = last < 256 ? Uint8Array.from(ends) : last < 65536 ? Uint16Array.from(ends) : Uint32Array.from(ends);
      const idx = numericDataset(g, `${name}_index`, index, [ends.length]);
      markType(idx, "VectorIndex");
      textAttr(idx, "description", `Index for VectorData '${name}'`);
      referenceAttr(idx, "target", ds);
    }
    this.writeSummaryImages(g, s.summary_images);
    this.segmentations.set(s.name, { path: g.path, neurodata_type: type, rows: ids.length });
  }

  /**
   * Adds SummaryImages to a segmentation added before (ndx-microscopy's Segmentation.add_summary_images): images
   * known only once the frames are in (a mean, a correlation image) join the ROIs a response series refers to.
   */
  addSummaryImages(segmentation: string, images: M.SummaryImage[]): void {
    const owner = `addSummaryImages '${segmentation}'`;
    const seg = this.lookup(this.segmentations, segmentation, owner, "segmentation");
    const parsed = images.map((image) => parseInput(M.SummaryImage, image, `SummaryImage ${describe(image)}`));
    const g = this.file.get(seg.path) as Group;
    const taken = parsed.find((image, i) => g.keys().includes(image.name) || parsed.findIndex((other) => other.name === image.name) !== i);
    if (taken) throw new NwbInputError(`${owner}: '${taken.name}' is taken in ${seg.path}`);
    this.writeSummaryImages(g, parsed);
  }

  private writeSummaryImages(g: Group, images: readonly z.output<typeof M.SummaryImage>[]): void {
    checkImageSizes("SummaryImage", images);
    for (const image of images) {
      const sg = typedGroup(g, image.name, "SummaryImage");
      textAttr(sg, "description", image.description);
      numericDataset(sg, "data", image.data, image.shape);
    }
  }

  /**
   * Adds a core Images container of GrayscaleImages ([x, y], float32) to /processing/<module> (created on first
   * use): a series' summary images when it has no segmentation to hold them as SummaryImages. Throws an
   * NwbInputError, writing nothing, for a name taken in the module, two images of one name, or data whose length
   * is not the shape's.
   */
  addImages(images: M.Images): void {
    const s = parseInput(M.Images, images, `Images ${describe(images)}`);
    const owner = `Images '${s.name}'`;
    checkImageSizes("GrayscaleImage", s.images);
    const twice = s.images.find((image, i) => s.images.findIndex((other) => other.name === image.name) !== i);
    if (twice) throw new NwbInputError(`${owner}: two images are named '${twice.name}'`);
    const module = (this.file.get("processing") as Group).get(s.module) as Group | null;
    if (module?.keys().includes(s.name)) throw new NwbInputError(`${owner}: '${s.name}' is taken in /processing/${s.module}`);
    const g = typedGroup(this.processingModule(s.module), s.name, "Images");
    textAttr(g, "description", s.description);
    for (const image of s.images) {
      const ds = numericDataset(g, image.name, image.data, image.shape);
      markType(ds, "GrayscaleImage");
      textAttr(ds, "description", image.description);
    }
  }

  createResponseSeries(series: M.MicroscopyResponseSeries): SeriesInfo {
    const s = parseInput(M.MicroscopyResponseSeries, series, `MicroscopyResponseSeries ${describe(series)}`);
    const owner = `MicroscopyResponseSeries '${s.name}'`;
    if (this.series.has(s.name)) throw new NwbInputError(`${owner}: a series named '${s.name}' exists already`);
    const seg = this.lookup(this.segmentations, s.segmentation, owner, "segmentation");
    const rois = s.roi_indices ?? Array.from({ length: seg.rows }, (_, i) => i);
    const outside = rois.find((i) => i >= seg.rows);
    if (outside !== undefined) throw new NwbInputError(`${owner}: ROI index ${outside} is past the ${seg.rows} rows of '${s.segmentation}'`);
    const source = s.microscopy_series === undefined ? undefined : this.lookup(this.series, s.microscopy_series, owner, "series");
    if (source && !source.info.neurodata_type.endsWith("MicroscopySeries")) {
      throw new NwbInputError(`${owner}: microscopy_series '${s.microscopy_series}' is a ${source.info.neurodata_type}, not a microscopy series`);
    }
    if (s.clock === "source" && !source) throw new NwbInputError(`${owner}: clock 'source' needs a microscopy_series to take the timestamps from`);
    this.existingContainer(s.module, s.container, "MicroscopyResponseSeriesContainer");

    const path = `/processing/${s.module}/${s.container}/${s.name}`;
    return this.declare(path, "MicroscopyResponseSeries", s, [rois.length], "float32", { conversion: 1, offset: 0, resolution: -1, unit: s.unit }, () => {
      // Traces come from the series' frames: a link to a series not in the file would dangle.
      if (source && !this.recorders.has(source.info.name)) {
        throw new NwbInputError(`${owner}: its microscopy_series '${source.info.name}' has no sample yet, so it is not in the file to link to`);
      }
      const g = typedGroup(this.processingGroup(s.module, s.container, "MicroscopyResponseSeriesContainer"), s.name, "MicroscopyResponseSeries");
      textAttr(g, "comments", s.comments ?? "no comments");
      textAttr(g, "description", s.description);
      const region = numericDataset(g, "rois", BigInt64Array.from(rois, BigInt), [rois.length]);
      markType(region, "DynamicTableRegion");
      textAttr(region, "description", s.rois_description);
      referenceAttr(region, "table", this.file.get(seg.path) as Group);
      if (source) g.create_soft_link(source.info.path, "microscopy_series");
      return g;
    }, source);
  }

  // ------------------------------------------------------------------ durability

  /**
   * Makes everything appended so far survive a crash or power loss, and checks that the output is still the
   * file being written. Throws a WriteError (what failed, the OS error) if any step fails: call fail() then.
   */
  checkpoint(): CheckpointReport {
    const flushed = this.flushAll();
    try {
      fsyncSync(this.fd);
    } catch (e) {
      throw WriteError.from("fsync of the file", e);
    }
    return this.confirm(flushed);
  }

  /**
   * checkpoint(), with its fsync (which takes 0.1–0.5 s on a busy disk) on libuv's thread pool: appends go on
   * meanwhile, and the report covers what was appended before the call. One at a time; do not close() or
   * fail() the file before it settles (an fsync of a closed descriptor fails).
   */
  async checkpointInBackground(): Promise<CheckpointReport> {
    const flushed = this.flushAll();
    try {
      await fsyncAsync(this.fd);
    } catch (e) {
      throw WriteError.from("fsync of the file", e);
    }
    return this.confirm(flushed);
  }

  /** Writes every staged row and flushes HDF5's caches to the OS; returns what the file now holds. */
  private flushAll(): Flushed {
    this.requireOpen();
    const samples: Record<string, number> = {};
    for (const [name, r] of this.recorders) {
      try {
        r.data.flush();
        r.timestamps?.flush();
      } catch (e) {
        throw WriteError.from(`writing ${name}`, e);
      }
      samples[name] = r.data.lengthInFile;
    }
    try {
      this.file.flush();
    } catch (e) {
      throw WriteError.from("flushing the file", e);
    }
    try {
      this.directWrites.settle(); // the frame data still queued, before the fsync through another descriptor
    } catch (e) {
      throw WriteError.from("writing frame data", e);
    }
    const unused = [...this.rigs, ...this.channels, ...this.spaces].filter(([, placed]) => !placed.path).map(([name]) => name);
    return { samples, events: this.events?.count ?? 0, empty: [...this.series.keys()].filter((name) => !this.recorders.has(name)), unused, directBytes: this.directWrites.directBytes, flush: ++this.flushes };
  }

  /** After the fsync of what flushAll() wrote: checks the output is still the file being written, and records the checkpoint. */
  private confirm({ flush, ...flushed }: Flushed): CheckpointReport {
    const moved = this.outputMoved();
    if (moved) throw new WriteError("checkpoint", `${this.path} ${moved}`, "ENOENT");
    const report = { ...flushed, time: Date.now() };
    // A background checkpoint that ends after a later one (made at once for a new series) says less than it.
    if (flush > this.savedFlush) {
      this.saved = report;
      this.savedFlush = flush;
    }
    return report;
  }

  /**
   * Whether a series or the event record was written into the file since the last checkpoint. A failure
   * now would cut it back to no sample at all, and an empty series cannot be taken out of an HDF5 file
   * again: the writer checkpoints at once when this is true.
   */
  get holdsUncheckpointedSeries(): boolean {
    return [...this.recorders.keys()].some((name) => !(name in this.saved.samples)) || (this.events !== undefined && this.saved.events === 0);
  }

  /** Checkpoints and closes the file; the NwbFile cannot be used afterwards. Throws as checkpoint() does. */
  close(): CheckpointReport {
    for (const name of this.recorders.keys()) this.dropPartialVolume(name); // a volume never finished is not one
    const report = this.checkpoint();
    // Last, after the checkpoint's fsync: a file that says it was closed holds everything appended.
    const absent = [
      ...(report.empty.length ? [`series created that got no sample, so are not in the file: ${report.empty.join(", ")}`] : []),
      ...(report.unused.length ? [`added but used by no series or segmentation, so not in the file: ${report.unused.join(", ")}`] : []),
    ];
    writeClosingNote(this.file, `closed normally on ${isoNow()}${absent.map((a) => `; ${a}`).join("")}.`);
    this.closed = true;
    this.file.close();
    this.releaseBuffers();
    fsyncSync(this.fd);
    this.lock.release();
    this.reserve.release();
    return report;
  }

  /** Frees the series' staging buffers in h5wasm's heap, which outlives the file in a worker that opens another. */
  private releaseBuffers(): void {
    for (const r of this.recorders.values()) {
      r.data.release();
      r.timestamps?.release();
    }
  }

  /**
   * Closes without the final checkpoint's guarantees (after a failure, which the caller reports), keeping what is
   * in the file; with `remove` (creating it failed: it holds nothing recorded), removing it if this writer
   * created it. Every step is taken whatever the one before did, so the lock and the reserve are let go.
   */
  abandon(options: { remove?: boolean } = {}): void {
    if (this.closed) return;
    this.closed = true;
    quietly(() => this.file.close());
    this.releaseBuffers();
    quietly(() => releaseLeakedFiles(this.path));
    quietly(() => (options.remove ? this.lock.discard() : this.lock.release()));
    quietly(() => this.reserve.release());
  }

  /**
   * After a failed write (`cause`, e.g. a WriteError from append or checkpoint): writes nothing more and
   * leaves the file as good as it can be — every series cut back to the samples of the last good checkpoint
   * (data and timestamps alike, so no row reads as fill), the event record to its entries — then flushed and
   * closed. The reserve is deleted first: on a full disk, that is the room this needs. If this fails too, the
   * file is left as a crash would leave it (HDF5's descriptor closed without a flush). Returns what failed and
   * what the file holds; the NwbFile is closed afterwards, and a second call returns the same.
   */
  /**
   * After a failed write closed the file: adds to its event record every one of `events` it lacks (those written
   * after the last checkpoint were cut back with it; those that came after the failure were never written), in
   * time order after what is there, and marks the file closed with `note`. Needs only a little space (the
   * released reserve). Returns how many entries it added. Throws if the file cannot be opened or written.
   */
  static async completeEvents(path: string, events: readonly M.RigEvent[], note: string): Promise<number> {
    await loadHdf5();
    const lock = WriteLock.take(path, { overwrite: true });
    try {
      const file = new File(path, "a", { libver: ["earliest", "v110"] });
      try {
        const g = file.get(`acquisition/${EVENTS_NAME}`) as Group | null;
        const { text, timestamps } = g ? { text: g.get("data") as Dataset, timestamps: g.get("timestamps") as Dataset } : createEventRecord(file);
        const texts = g ? readText(text) : [];
        const times = g ? Array.from(timestamps.value as Float64Array) : [];
        const there = new Set(texts.map((t, i) => `${times[i]}\n${t}`));
        const last = times.length ? times[times.length - 1]! : -Infinity;
        const missing = events
          .map((e) => ({ time: e.time, text: `${e.kind} [${e.source}] ${e.message}` }))
          .filter((e) => !there.has(`${e.time}\n${e.text}`))
          .sort((a, b) => a.time - b.time)
          .map((e) => (e.time < last ? { time: last, text: `${e.text} (at ${e.time.toFixed(3)} s)` } : e));
        writeText(text, texts.length, missing.map((e) => e.text));
        writeRows(timestamps, times.length, missing.length, [], Float64Array.from(missing, (e) => e.time));
        if (!file.get(CLOSING_NOTE_PATH)) writeClosingNote(file, note);
        file.flush();
        return missing.length;
      } finally {
        file.close();
      }
    } finally {
      lock.release();
    }
  }

  fail(cause: unknown): WriteFailure {
    if (this.failure) return this.failure;
    const error = WriteError.from("writing the file", cause);
    quietly(() => this.reserve.release());
    const moved = this.outputMoved();
    let closed = false;
    // A file that may not grow (EFBIG: a file-size limit, FAT32's 4 GiB) holds space HDF5 allocated past that
    // limit: a close would write a superblock claiming more than the file holds, which no reader opens. It
    // is left as of its last checkpoint instead, as a crash would leave it.
    if (!this.closed && error.code !== "EFBIG") {
      this.closed = true;
      try {
        const samples = { ...this.saved.samples };
        for (const [name, r] of this.recorders) {
          // A series first written since the last checkpoint cannot be taken out of the file again: it keeps its
          // first sample, which the reserve just made room for, rather than be left empty.
          const rows = samples[name] ?? Math.min(1, r.data.length, r.timestamps?.length ?? 1);
          if (rows) samples[name] = rows;
          r.data.shrinkTo(rows);
          r.timestamps?.shrinkTo(rows);
        }
        this.saved = { ...this.saved, samples };
        if (this.events) {
          this.events.text.resize([this.saved.events]);
          this.events.timestamps.resize([this.saved.events]);
        }
        this.file.flush();
        this.directWrites.settle();
        fsyncSync(this.fd);
        this.file.close();
        closed = true;
      } catch {
        // Closing would write HDF5's view (extents past what reached the disk): the last checkpoint is left instead.
      }
    }
    this.closed = true;
    this.releaseBuffers();
    quietly(() => releaseLeakedFiles(this.path)); // closing them retries writes the failure stopped, which may fail again
    quietly(() => this.lock.release());
    const message = moved && error.code !== "ENOENT" ? `${error.message}; ${this.path} ${moved}` : error.message;
    this.failure = { message, code: moved ? "ENOENT" : error.code, saved: moved ? undefined : this.saved, closed: closed && !moved };
    return this.failure;
  }

  /** Why the path no longer leads to the file being written (removed, replaced, file system unmounted), if it does not. */
  private outputMoved(): string | undefined {
    let own, now;
    try {
      own = fstatSync(this.fd);
      if (own.nlink === 0) return "was removed while being written";
      now = statSync(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return "was removed while being written, or its file system unmounted";
      return undefined; // not known to be gone: the failure's own cause says what happened
    }
    return now.ino === own.ino && now.dev === own.dev ? undefined : "was replaced by another file while being written";
  }

  private requireOpen(): void {
    if (this.closed) throw new NwbInputError(`${this.path} is closed`);
  }
}

/** Refuses an image whose data is not as long as its shape says, before anything is written. */
function checkImageSizes(type: string, images: readonly { name: string; shape: readonly number[]; data: Float32Array }[]): void {
  for (const image of images) {
    const elements = image.shape.reduce((a, b) => a * b, 1);
    if (image.data.length !== elements) {
      throw new NwbInputError(`${type} '${image.name}': data has ${image.data.length} values, expected ${elements} for [${image.shape.join(", ")}]`);
    }
  }
}

function describe(obj: unknown): string {
  const name = (obj as { name?: unknown } | null)?.name;
  return typeof name === "string" ? `'${name}'` : "(unnamed)";
}

