// The online analysis of a session (issue 14): which series the profile asks to analyse and with what, the NWB
// objects that hold the results (a Planar- or VolumetricSegmentation of the ROIs, MicroscopyResponseSeries of F
// and ΔF/F sharing the source series' timestamps, TimeSeries of the motion in µm — a column per depth plane of a
// volume —, SummaryImages at stop, in a core Images container when there are no ROIs), and the traces published
// live. A volumetric series is analysed plane by plane, its traces per volume. The computing is in src/analysis,
// in a worker: nothing here waits for it on the frame path.
import { Subject } from "rxjs";
import type { AnalysisRoi, RigProfile, VolumeRoi } from "../config/index.js";
import type { Frame } from "../drivers/frame-source.js";
import { imageToPixel, volumeToVoxel, type NwbWriter, type SeriesInfo } from "../nwb/index.js";
import { OnlineAnalysis, type FrameResult } from "../analysis/online.js";
import { BANDS, checkPixelMasks, isVolume, voxelsByDepth } from "../analysis/plan.js";
import type { AnalysisConfig, VoxelMask } from "../analysis/series-analysis.js";
import type { SummaryImages } from "../analysis/summary.js";
import type { PixelMask } from "../analysis/traces.js";
import { counted } from "./losses.js";
import type { EngineEvent } from "./stages.js";

/** One frame's (or volume's) results as the PUB socket's `traces` topic carries them (JSON). */
export interface TracesMessage {
  series: string;
  /**
   * The frame's (volume's) time, s on the session clock (the source series' timestamp), and the producer's
   * hardware_time_s (of a volume's first plane analysed; null: none).
   */
  time: number;
  hardware_time_s: number | null;
  /**
   * ΔF/F and F (counts) per ROI, in the order of the segmentation's rows; null where not computed (an ROI moved
   * off the frame, or with voxels in a plane of the volume that was not analysed).
   */
  dff: (number | null)[];
  f: (number | null)[];
  /** The frame's shift against the reference in pixels and µm ([x, y]); null while the reference is built, without motion, or for a volume. */
  shift_px: [number, number] | null;
  shift_um: [number, number] | null;
  /** A volume's only: per depth plane, its shift against its own reference in pixels and µm ([x, y]); null where none. */
  depth_shifts_px?: ([number, number] | null)[];
  depth_shifts_um?: ([number, number] | null)[];
}

/** Per series analysed: frames (planes of a volumetric series) offered to the analysis, analysed, and skipped because it was behind (all recorded). */
export type AnalysisStatus = Record<string, { offered: number; analysed: number; skipped: number }>;

interface Analysed {
  config: AnalysisConfig;
  /** Where the ROIs came from when not the profile itself: "segmentation S of FILE". */
  from: string | undefined;
  pixelSize: readonly [number, number] | undefined;
  segmentation: string | undefined;
  fluorescence?: SeriesInfo;
  dff?: SeriesInfo;
  motion?: [SeriesInfo, SeriesInfo];
  /** Times of frames written to the source series whose response rows are not written yet, in order. */
  written: number[];
  /** Results waiting for their frame to be written, by time. */
  results: Map<number, FrameResult>;
  /** Times of frames handed to the worker and not analysed yet: a written frame neither here nor in `results` gets a NaN row. */
  inFlight: Set<number>;
  analysed: number;
  /** The burst of skipped frames (planes) under way: from, to, how many. */
  burst?: { from: number; to: number; frames: number };
  /** A volumetric series': the volume whose planes are being offered, by the producer's volume counter, and its time (its first plane's). */
  volume?: { counter: number; time: number };
}

/** A result's shift per depth in µm ([x, y]), null where it has none or the imaging space gives no pixel size. */
function micrometers(a: Analysed, r: FrameResult): ([number, number] | null)[] {
  return r.shifts.map((s) => (s && a.pixelSize ? [s.dx * a.pixelSize[0], s.dy * a.pixelSize[1]] : null));
}

/** It reads with h5wasm: imported only for a profile that asks, so that h5wasm (~40 MB resident) is not loaded on the main thread otherwise. */
const roisFromNwb = () => import("../analysis/rois-from-nwb.js");

/** The ROIs of a profile's planar series analysis as [x, y, weight] pixel masks. */
function pixelMasks(rois: readonly AnalysisRoi[]): PixelMask[] {
  return rois.map((r) => r.pixel_mask ?? imageToPixel(r.image_mask!));
}

/** The ROIs of a profile's volumetric series analysis as [x, y, z, weight] voxel masks. */
function voxelMasks(rois: readonly VolumeRoi[]): VoxelMask[] {
  return rois.map((r) => r.voxel_mask ?? volumeToVoxel(r.volume_mask!));
}

export class SessionAnalysis {
  /** One message per analysed frame (volume, of a volumetric series), for the PUB socket. */
  readonly traces$ = new Subject<TracesMessage>();
  private readonly analysed = new Map<string, Analysed>();
  private readonly online: OnlineAnalysis;
  private writer: NwbWriter | undefined;
  private laidOut: () => void = () => undefined;
  /** Appends of results, in order, from when the file is laid out (frames are analysed from the start); the first failure is kept. */
  private writing: Promise<unknown> = new Promise<void>((resolve) => (this.laidOut = resolve));

  private constructor(
    series: Analysed[],
    private readonly event: (e: EngineEvent) => void,
  ) {
    for (const s of series) this.analysed.set(s.config.series, s);
    this.online = OnlineAnalysis.start(series.map((s) => s.config));
    this.online.results$.subscribe((r) => this.result(r));
  }

  /**
   * The analysis `profile` asks for, running; undefined when no series has `analysis`. Throws, naming the
   * profile field, when ROIs cannot be read from `rois_from_nwb` or do not fit the frames.
   */
  static async start(profile: RigProfile, event: (e: EngineEvent) => void): Promise<SessionAnalysis | undefined> {
    const series: Analysed[] = [];
    for (const [i, s] of profile.recording.series.entries()) {
      if (!s.analysis) continue;
      const a = s.analysis;
      const source = profile.recording.frame_sources.find((f) => f.name === s.frames.source)!;
      const [height, width] = source.frame_shape;
      const depths = source.plane_count;
      const field = `recording.series[${i}].analysis.${a.rois_from_nwb ? "rois_from_nwb" : "rois"}`;
      const from = a.rois_from_nwb;
      const common = { series: s.name, width, height, rate_Hz: source.frame_rate_in_Hz / (source.plane_count + source.flyback_planes), summary_images: a.summary_images, baseline: a.baseline };
      let config: AnalysisConfig;
      let pixelSize: readonly number[] | undefined;
      // The ROIs are checked here, where the profile field can be named.
      try {
        if (s.neurodata_type === "PlanarMicroscopySeries") {
          const planar = s.analysis!;
          const rois = from ? (await (await roisFromNwb()).readPlanarRois(from.file, from.segmentation)).masks : planar.rois && pixelMasks(planar.rois);
          if (rois) checkPixelMasks(rois, width, height);
          const reference = planar.motion?.reference_image;
          const motion = planar.motion && (reference ? { reference: rowMajor(reference, width, height) } : { reference_s: planar.motion.reference_s ?? 1 });
          config = { ...common, ...(motion ? { motion } : {}), ...(rois ? { rois } : {}) };
          const space = profile.imaging_spaces.find((i) => i.name === s.planar_imaging_space);
          pixelSize = space?.neurodata_type === "PlanarImagingSpace" ? space.pixel_size_in_um : undefined;
        } else {
          const volumetric = s.analysis!;
          const rois = from ? (await (await roisFromNwb()).readVolumetricRois(from.file, from.segmentation)).masks : volumetric.rois && voxelMasks(volumetric.rois);
          if (rois) voxelsByDepth(rois, width, height, depths);
          config = { ...common, depths, ...(volumetric.motion ? { motion: { reference_s: volumetric.motion.reference_s ?? 1 } } : {}), ...(rois ? { rois } : {}) };
          const space = profile.imaging_spaces.find((i) => i.name === s.volumetric_imaging_space);
          pixelSize = space?.neurodata_type === "VolumetricImagingSpace" ? space.voxel_size_in_um : undefined;
        }
      } catch (e) {
        throw new Error(`${field}: ${(e as Error).message}`);
      }
      series.push({
        config,
        from: from && `segmentation ${from.segmentation} of ${from.file}`,
        pixelSize: pixelSize && [pixelSize[0]!, pixelSize[1]!],
        segmentation: config.rois ? `${s.name}Segmentation` : undefined,
        written: [],
        results: new Map(),
        inFlight: new Set(),
        analysed: 0,
      });
    }
    return series.length ? new SessionAnalysis(series, event) : undefined;
  }

  /**
   * Adds to the file what holds the results: per series its segmentation (the ROIs), response series of F and
   * ΔF/F (timestamps shared with the source series) and the motion's TimeSeries. Call after the plan is written.
   */
  async layOut(writer: NwbWriter, imagingSpaceOf: (series: string) => string): Promise<void> {
    for (const [name, a] of this.analysed) {
      const volume = isVolume(a.config);
      const per = volume ? "volume" : "frame";
      if (a.segmentation) {
        const segmentation = {
          name: a.segmentation,
          description: `ROIs of ${name} given in the rig profile${a.from ? ` (from ${a.from})` : ""}, traced live by rigd's online analysis.`,
          imaging_space: imagingSpaceOf(name),
        };
        if (isVolume(a.config)) await writer.addVolumetricSegmentation({ ...segmentation, rois: a.config.rois!.map((m) => ({ voxel_mask: m.map(([x, y, z, w]) => [x, y, z, w] as [number, number, number, number]) })) });
        else await writer.addPlanarSegmentation({ ...segmentation, rois: a.config.rois!.map((m) => ({ pixel_mask: m.map(([x, y, w]) => [x, y, w] as [number, number, number]) })) });
        const response = (suffix: string, description: string) =>
          writer.createResponseSeries({ name: `${name}${suffix}`, description, segmentation: a.segmentation!, microscopy_series: name, clock: "source", unit: "n.a." });
        const shifted = a.config.motion ? `, each mask moved by the ${volume ? "plane's" : "frame's"} rigid motion (rounded to whole pixels)` : "";
        const over = volume ? " over all its voxels (each depth plane's part weighted by its voxels' weights)" : "";
        const nan = volume ? "NaN where a volume was not analysed, and for the ROIs with voxels in a plane of it that was not" : "NaN where a frame was not analysed";
        a.fluorescence = await response("Fluorescence", `Weighted-mask mean fluorescence of each ROI${over} per ${per} of ${name} (counts)${shifted}; ${nan}.`);
        a.dff = await response(
          "DfOverF",
          `ΔF/F = (F − F0) / F0 of each ROI per ${per} of ${name}, F0 the ${a.config.baseline.percentile}th percentile of F over the last ${a.config.baseline.window_s} s; ${nan}.`,
        );
      }
      if (a.config.motion) {
        const depths = isVolume(a.config) ? a.config.depths : undefined;
        const axis = (x: "X" | "Y") =>
          writer.createTelemetrySeries({
            name: `${name}Motion${x}`,
            description: depths
              ? `Rigid ${x === "X" ? "x (along the planes' width)" : "y (down the planes' rows)"} shift of each depth plane of each volume of ${name} against that depth's own reference, by phase correlation: one column per depth (z = 0 … ${depths - 1}), NaN where a plane has none (not analysed, or its reference not built); volumes in the reference's first seconds have none.`
              : `Rigid ${x === "X" ? "x (along the frame's width)" : "y (down the frame's rows)"} shift of each frame of ${name} against its reference, by phase correlation; frames in the reference's first seconds have none.`,
            unit: "micrometers",
            continuity: "continuous",
            module: "ophys", // computed, not recorded: beside the other results
            clock: { timestamps: true },
            ...(depths ? { columns: depths } : {}),
          });
        a.motion = [await axis("X"), await axis("Y")];
      }
    }
    this.writer = writer;
    this.laidOut();
  }

  /**
   * Offers a frame of a series to the analysis (copied; never waits). `received`: ms since the epoch. `plane`: the
   * frame's plane index and volume counter, as its producer numbered them (used for a volumetric series only).
   */
  offer(series: string, time: number, frame: Frame): void {
    const a = this.analysed.get(series);
    if (!a) return;
    if (isVolume(a.config)) {
      // A volume's time is its first plane's (assembleVolumes keeps a volume only if that is plane 0).
      if (a.volume?.counter !== frame.counter) a.volume = { counter: frame.counter, time };
      time = a.volume.time;
    }
    if (this.online.offer(series, time, frame.hardware_time_s ?? null, frame.data, frame.received_time, isVolume(a.config) ? frame.plane : 0)) {
      a.inFlight.add(time);
      this.endBurst(a, series);
      return;
    }
    // Skipped: its response rows are NaN; the record says so once per burst.
    a.burst = a.burst ? { ...a.burst, to: time, frames: a.burst.frames + 1 } : { from: time, to: time, frames: 1 };
  }

  /** A frame (a whole volume) of `series` at `time` was written to the file: its response rows follow once its analysis settled. */
  written(series: string, time: number): void {
    const a = this.analysed.get(series);
    if (!a?.fluorescence && !a?.motion) return;
    a.written.push(time);
    this.flushRows(a);
  }

  status(): AnalysisStatus {
    return Object.fromEntries([...this.online.counts].map(([series, c]) => [series, { ...c, analysed: this.analysed.get(series)!.analysed }]));
  }

  /**
   * At stop, after the last frame is written: waits for the analysis to finish, writes the remaining rows and
   * the summary images (if the file was laid out), says what was skipped, and ends the worker. Throws the first
   * failure of any of it.
   */
  async finish(): Promise<void> {
    try {
      const images = await this.online.finish();
      if (!this.writer) return; // the session never laid out its file: nothing to write
      for (const [series, a] of this.analysed) {
        this.endBurst(a, series);
        this.flushRows(a);
        const planes = images.get(series);
        if (planes) this.write((w) => this.writeSummaryImages(w, series, a, planes));
        if (a.written.length) throw new Error(`online analysis: ${a.written.length} frames of ${series} have no rows`);
      }
      await this.writing;
    } finally {
      this.traces$.complete();
      await this.online.close();
    }
  }

  private result(r: FrameResult): void {
    const a = this.analysed.get(r.series)!;
    a.analysed += r.planes;
    a.inFlight.delete(r.time);
    const px = r.shifts.map((s): [number, number] | null => s && [s.dx, s.dy]);
    const um = micrometers(a, r);
    const volume = isVolume(a.config);
    if (this.traces$.observed) {
      const list = (v: Float32Array) => Array.from(v, (x) => (Number.isNaN(x) ? null : x));
      this.traces$.next({
        series: r.series,
        time: r.time,
        hardware_time_s: r.hardwareTime,
        dff: list(r.dff),
        f: list(r.f),
        shift_px: volume ? null : px[0]!,
        shift_um: volume ? null : um[0]!,
        ...(volume ? { depth_shifts_px: px, depth_shifts_um: um } : {}),
      });
    }
    if (a.fluorescence || a.motion) {
      a.results.set(r.time, r);
      this.flushRows(a);
    }
  }

  /**
   * The three summary images of `series`: a planar series' or a volume's stacked (height, width, depth) as SummaryImages of
   * its ROIs' segmentation; without ROIs as GrayscaleImages of a core Images container, a volume's one per depth.
   */
  private writeSummaryImages(writer: NwbWriter, series: string, a: Analysed, planes: SummaryImages[]): Promise<void> {
    const [first] = planes as [SummaryImages];
    const depths = planes.length;
    const volume = isVolume(a.config);
    const frames = [...new Set(planes.map((p) => p.frames))].sort((x, y) => x - y);
    const counted = frames.length === 1 ? `${frames[0]}` : `${frames[0]}–${frames.at(-1)}`;
    const over = `over the ${counted} ${volume ? "planes of each depth" : "frames"} of ${series} analysed${a.config.motion ? ", motion-corrected (whole pixels)" : ""}`;
    const kinds = [
      ["mean", (p: SummaryImages) => p.mean, "Mean image"],
      ["max", (p: SummaryImages) => p.max, "Maximum projection"],
      ["correlation", (p: SummaryImages) => p.correlation, `Local correlation image: each pixel's mean Pearson correlation with its 8 neighbours, each pixel's from every ${BANDS}th of the frames (its band of rows in turn)`],
    ] as const;
    const [width, height] = first.shape;
    // Every image as the series' frames are, (height, width): ndx-microscopy's SummaryImage dims, and what a reader
    // shows beside the frames (core GrayscaleImages too, whose dims the core spec names x, y); the sums are [x][y].
    const rows = (images: readonly Float32Array[]) => {
      const out = new Float32Array(width * height * images.length);
      images.forEach((image, z) => {
        for (let x = 0; x < width; x++) for (let y = 0; y < height; y++) out[(y * width + x) * images.length + z] = image[x * height + y]!;
      });
      return out;
    };
    if (a.segmentation) {
      const stack = (of: (p: SummaryImages) => Float32Array) => rows(planes.map(of));
      const shape: [number, number] | [number, number, number] = volume ? [height, width, depths] : [height, width];
      const axes = volume ? "(height, width, depth), each depth plane against its own reference" : "(height, width), as the series' frames";
      return writer.addSummaryImages(a.segmentation, kinds.map(([name, of, what]) => ({ name, description: `${what} ${over}; ${axes}.`, shape, data: stack(of) })));
    }
    // ndx-microscopy keeps SummaryImages in a segmentation only; without ROIs an empty one would fail nwbinspector
    // (check_empty_table), so the images go in a core Images container, whose images are 2-D.
    const images = planes.flatMap((p, z) =>
      kinds.map(([name, of, what]) => ({ name: volume ? `${name}_z${z}` : name, description: `${what} ${over}${volume ? `, depth plane z = ${z}` : ""}; (height, width), as the series' frames.`, shape: [height, width] as [number, number], data: rows([of(p)]) })),
    );
    return writer.addImages({ name: `${series}SummaryImages`, description: `Summary images of ${series} by rigd's online analysis (no ROIs were given: images to draw them on).`, images });
  }

  /**
   * Writes the rows of the frames (volumes) written to the source series whose analysis settled, in order: a
   * response row each (NaN where a frame was not analysed) and a motion row each that has a shift. A frame not
   * written (lost on the way to the file, a volume left incomplete at stop) gets none: its results are dropped.
   */
  private flushRows(a: Analysed): void {
    if (!this.writer) return;
    let n = 0;
    while (n < a.written.length && !a.inFlight.has(a.written[n]!)) n++;
    if (n === 0) return;
    const last = a.written[n - 1]!;
    const rois = a.config.rois?.length ?? 0;
    const f = new Float32Array(n * rois).fill(NaN);
    const dff = new Float32Array(n * rois).fill(NaN);
    const moved: { time: number; um: ([number, number] | null)[] }[] = [];
    a.written.splice(0, n).forEach((time, row) => {
      const r = a.results.get(time);
      if (!r) return;
      f.set(r.f, row * rois);
      dff.set(r.dff, row * rois);
      const um = micrometers(a, r);
      if (um.some((s) => s)) moved.push({ time, um });
    });
    // Frames are written in time order: results up to the last row are used, or of frames lost on the way to the file.
    for (const time of a.results.keys()) if (time <= last) a.results.delete(time);
    if (a.fluorescence) this.write((w) => Promise.all([w.append(a.fluorescence!, f), w.append(a.dff!, dff)]));
    if (a.motion && moved.length) {
      const [x, y] = a.motion;
      const column = (axis: 0 | 1) => Float64Array.from(moved.flatMap((m) => m.um.map((s) => (s ? s[axis] : NaN))));
      const times = moved.map((m) => m.time);
      this.write((w) => Promise.all([w.append(x, column(0), times), w.append(y, column(1), times)]));
    }
  }


  private endBurst(a: Analysed, series: string): void {
    if (!a.burst) return;
    const { from, to, frames } = a.burst;
    a.burst = undefined;
    const what = counted(frames, isVolume(a.config) ? "planes of the volumes" : "frames");
    const rows = isVolume(a.config) ? "the ROIs with voxels in them are NaN in their volumes' trace rows" : "their trace rows are NaN";
    this.event({ time: from, kind: "analysis_behind", source: series, message: `the online analysis fell behind: ${what} from ${from.toFixed(3)} s to ${to.toFixed(3)} s not analysed (recorded all the same; ${rows})` });
  }

  /** Appends in order; after a failure none runs, and finish() throws it. */
  private write(task: (writer: NwbWriter) => Promise<unknown>): void {
    this.writing = this.writing.then(() => task(this.writer!));
    // Held for finish(): until then a failure is not an unhandled rejection (which would end the process).
    this.writing.catch(() => undefined);
  }
}

/** An image given [x][y] (width × height, as masks are) as row-major pixels (height × width), as frames arrive. */
function rowMajor(image: readonly (readonly number[])[], width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let x = 0; x < width; x++) for (let y = 0; y < height; y++) out[y * width + x] = image[x]![y]!;
  return out;
}
