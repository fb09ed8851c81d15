// The online analysis of a session (issue 14): which series the profile asks to analyse and with what, the NWB
// objects that hold the results (a PlanarSegmentation of the ROIs, MicroscopyResponseSeries of F and ΔF/F sharing
// the source series' timestamps, TimeSeries of the motion in µm, SummaryImages at stop), and the traces
// published live. The computing is in src/analysis, in a worker: nothing here waits for it on the frame path.
import { Subject } from "rxjs";
import type { AnalysisRoi, RigProfile } from "../config/index.js";
import type { FrameData } from "../drivers/frame-source.js";
import { imageToPixel, type NwbWriter, type SeriesInfo } from "../nwb/index.js";
import { OnlineAnalysis, type FrameResult } from "../analysis/online.js";
import type { SeriesAnalysisConfig } from "../analysis/series-analysis.js";
import { readPlanarRois } from "../analysis/rois-from-nwb.js";
import { RoiMasks, type PixelMask } from "../analysis/traces.js";
import type { EngineEvent } from "./stages.js";

/** One frame's results as the PUB socket's `traces` topic carries them (JSON). */
export interface TracesMessage {
  series: string;
  /** The frame's time, s on the session clock (the source series' timestamp), and the producer's hardware_time_s (null: none). */
  time: number;
  hardware_time_s: number | null;
  /** ΔF/F and F (counts) per ROI, in the order of the segmentation's rows; null where not computed (an ROI moved off the frame). */
  dff: (number | null)[];
  f: (number | null)[];
  /** The frame's shift against the reference in pixels and µm ([x, y]); null while the reference is built, or without motion. */
  shift_px: [number, number] | null;
  shift_um: [number, number] | null;
}

/** Per series analysed: frames offered to the analysis, analysed, and skipped because it was behind (all recorded). */
export type AnalysisStatus = Record<string, { offered: number; analysed: number; skipped: number }>;

interface Analysed {
  config: SeriesAnalysisConfig;
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
  /** The burst of skipped frames under way: from, to, how many. */
  burst?: { from: number; to: number; frames: number };
}

/** The ROIs of a profile's series analysis as [x, y, weight] pixel masks. */
function roisOf(rois: readonly AnalysisRoi[]): PixelMask[] {
  return rois.map((r) => r.pixel_mask ?? imageToPixel(r.image_mask!));
}

export class SessionAnalysis {
  /** One message per analysed frame, for the PUB socket. */
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
      if (s.neurodata_type !== "PlanarMicroscopySeries" || !s.analysis) continue;
      const a = s.analysis;
      const source = profile.recording.frame_sources.find((f) => f.name === s.frames.source)!;
      const space = profile.imaging_spaces.find((i) => i.name === s.planar_imaging_space);
      const [height, width] = source.frame_shape;
      const field = `recording.series[${i}].analysis.${a.rois_from_nwb ? "rois_from_nwb" : "rois"}`;
      let rois: PixelMask[] | undefined;
      try {
        rois = a.rois_from_nwb ? (await readPlanarRois(a.rois_from_nwb.file, a.rois_from_nwb.segmentation)).masks : a.rois && roisOf(a.rois);
        if (rois) new RoiMasks(width, height, rois); // checked here, where the profile field can be named
      } catch (e) {
        throw new Error(`${field}: ${(e as Error).message}`);
      }
      const reference = a.motion?.reference_image;
      series.push({
        config: {
          series: s.name,
          width,
          height,
          rate_Hz: source.frame_rate_in_Hz / (source.plane_count + source.flyback_planes),
          ...(a.motion ? { motion: reference ? { reference: rowMajor(reference, width, height) } : { reference_s: a.motion.reference_s ?? 1 } } : {}),
          summary_images: a.summary_images,
          ...(rois ? { rois } : {}),
          baseline: a.baseline,
        },
        from: a.rois_from_nwb && `segmentation ${a.rois_from_nwb.segmentation} of ${a.rois_from_nwb.file}`,
        pixelSize: space?.neurodata_type === "PlanarImagingSpace" ? (space.pixel_size_in_um as [number, number] | undefined) : undefined,
        segmentation: rois ? `${s.name}Segmentation` : undefined,
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
      if (a.segmentation) {
        await writer.addPlanarSegmentation({
          name: a.segmentation,
          description: `ROIs of ${name} given in the rig profile${a.from ? ` (from ${a.from})` : ""}, traced live by rigd's online analysis.`,
          imaging_space: imagingSpaceOf(name),
          rois: a.config.rois!.map((m) => ({ pixel_mask: m.map(([x, y, w]) => [x, y, w] as [number, number, number]) })),
        });
        const response = (suffix: string, description: string) =>
          writer.createResponseSeries({ name: `${name}${suffix}`, description, segmentation: a.segmentation!, microscopy_series: name, clock: "source", unit: "n.a." });
        const shifted = a.config.motion ? ", each mask moved by the frame's rigid motion (rounded to whole pixels)" : "";
        a.fluorescence = await response("Fluorescence", `Weighted-mask mean fluorescence of each ROI per frame of ${name} (counts)${shifted}; NaN where a frame was not analysed.`);
        a.dff = await response(
          "DfOverF",
          `ΔF/F = (F − F0) / F0 of each ROI per frame of ${name}, F0 the ${a.config.baseline.percentile}th percentile of F over the last ${a.config.baseline.window_s} s; NaN where a frame was not analysed.`,
        );
      }
      if (a.config.motion) {
        const axis = (x: "X" | "Y") =>
          writer.createTelemetrySeries({
            name: `${name}Motion${x}`,
            description: `Rigid ${x === "X" ? "x (along the frame's width)" : "y (down the frame's rows)"} shift of each frame of ${name} against its reference, by phase correlation; frames in the reference's first seconds have none.`,
            unit: "micrometers",
            continuity: "continuous",
            clock: { timestamps: true },
          });
        a.motion = [await axis("X"), await axis("Y")];
      }
    }
    this.writer = writer;
    this.laidOut();
  }

  /** Offers a frame of a series to the analysis (copied; never waits). `received`: ms since the epoch. */
  offer(series: string, time: number, hardwareTime: number | null, data: FrameData, received: number): void {
    const a = this.analysed.get(series);
    if (!a) return;
    if (this.online.offer(series, time, hardwareTime, data, received)) {
      a.inFlight.add(time);
      this.endBurst(a, series);
      return;
    }
    // Skipped: its response rows are NaN; the record says so once per burst.
    a.burst = a.burst ? { ...a.burst, to: time, frames: a.burst.frames + 1 } : { from: time, to: time, frames: 1 };
  }

  /** A frame of `series` at `time` was written to the file: its response rows follow once its analysis settled. */
  written(series: string, time: number): void {
    const a = this.analysed.get(series);
    if (!a?.fluorescence) return;
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
        const summary = images.get(series);
        if (summary && a.segmentation) {
          const image = (name: string, data: Float32Array<ArrayBuffer>, description: string) => ({ name, description, shape: summary.shape, data });
          const over = `over the ${summary.frames} frames of ${series} analysed${a.config.motion ? ", motion-corrected (whole pixels)" : ""}; [x, y]`;
          this.write((w) =>
            w.addSummaryImages(a.segmentation!, [
              image("mean", summary.mean, `Mean image ${over}.`),
              image("max", summary.max, `Maximum projection ${over}.`),
              image("correlation", summary.correlation, `Local correlation image: each pixel's mean Pearson correlation with its 8 neighbours ${over}.`),
            ]),
          );
        }
        if (a.written.length) throw new Error(`online analysis: ${a.written.length} frames of ${series} have no response rows`);
      }
      await this.writing;
    } finally {
      this.traces$.complete();
      await this.online.close();
    }
  }

  private result(r: FrameResult): void {
    const a = this.analysed.get(r.series)!;
    a.analysed++;
    a.inFlight.delete(r.time);
    const um = (px: { dx: number; dy: number }): [number, number] | null => (a.pixelSize ? [px.dx * a.pixelSize[0], px.dy * a.pixelSize[1]] : null);
    const shift_um = r.shift && um(r.shift);
    if (this.traces$.observed) {
      const list = (v: Float32Array) => Array.from(v, (x) => (Number.isNaN(x) ? null : x));
      this.traces$.next({ series: r.series, time: r.time, hardware_time_s: r.hardwareTime, dff: list(r.dff), f: list(r.f), shift_px: r.shift && [r.shift.dx, r.shift.dy], shift_um });
    }
    if (a.motion && shift_um) {
      const [x, y] = a.motion;
      this.write((w) => Promise.all([w.append(x, Float64Array.of(shift_um[0]), [r.time]), w.append(y, Float64Array.of(shift_um[1]), [r.time])]));
    }
    if (a.fluorescence) {
      a.results.set(r.time, r);
      this.flushRows(a);
    }
  }

  /** Writes the response rows of written frames whose analysis is done, in order: the result, or NaN (skipped). */
  private flushRows(a: Analysed): void {
    if (!a.fluorescence || !this.writer) return;
    let n = 0;
    while (n < a.written.length && !a.inFlight.has(a.written[n]!)) n++;
    if (n === 0) return;
    const last = a.written[n - 1]!;
    const rois = a.config.rois!.length;
    const f = new Float32Array(n * rois).fill(NaN);
    const dff = new Float32Array(n * rois).fill(NaN);
    a.written.splice(0, n).forEach((time, row) => {
      const r = a.results.get(time);
      if (r) f.set(r.f, row * rois), dff.set(r.dff, row * rois);
    });
    // Frames are written in time order: results up to the last row are used, or of frames lost on the way to the file.
    for (const time of a.results.keys()) if (time <= last) a.results.delete(time);
    this.write((w) => Promise.all([w.append(a.fluorescence!, f), w.append(a.dff!, dff)]));
  }

  private endBurst(a: Analysed, series: string): void {
    if (!a.burst) return;
    const { from, to, frames } = a.burst;
    a.burst = undefined;
    this.event({ time: from, kind: "analysis_behind", source: series, message: `the online analysis fell behind: ${frames} frames from ${from.toFixed(3)} s to ${to.toFixed(3)} s not analysed (recorded all the same; their trace rows are NaN)` });
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
