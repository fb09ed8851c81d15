// One recording session: devices identified, the file laid out from the profile, frames piped through
// the stages into the writer, device state sampled into telemetry and device events into the event
// record. Lifecycle: idle → recording → stopping → closed. After a normal stop the file is complete;
// after a crash the writer's last checkpoint holds.
import { existsSync, statSync } from "node:fs";
import { releaseFrame } from "../frame-slots.js";
import { concat, defer, EMPTY, from, type Observable, type Subscription, Subject, map, merge, takeUntil, tap } from "rxjs";
import type { RigProfile, SessionMetadata } from "../config/index.js";
import { type DeviceEvent, type Stamped, UnsupportedSetting } from "../drivers/device.js";
import type { ExcitationSource, ExcitationSourceState } from "../drivers/excitation-source.js";
import type { Frame, FrameSource } from "../drivers/frame-source.js";
import type { PhotodetectorController, PhotodetectorState } from "../drivers/photodetector.js";
import { freeBytes } from "../nwb/disk.js";
import { NwbWriteFailure, NwbWriter, type RigEvent, isoNow, type CheckpointReport, type NwbFileMetadata, type Percentiles, type SeriesInfo } from "../nwb/index.js";
import { type ReportedIdentity, planNwb, writePlan } from "./nwb-plan.js";
import { counted, LossRecorder, type SeriesLosses } from "./losses.js";
import { type DeviceStatus, DeviceWatch } from "./devices.js";
import { type AnalysisStatus, SessionAnalysis, type TracesMessage } from "./analysis.js";
import { type EngineEvent, type Loss, type Route, type TaggedFrame, type WriteLimits, assembleVolumes, boundedWrite, completesSample, limitSamples, recordGaps, releaseSample, routeKey, type Sample, tagAndTime } from "./stages.js";

/** The devices of a rig, connected, keyed by the profile's names. */
export interface RigDevices {
  /** recording.frame_sources name → source. */
  frameSources: ReadonlyMap<string, FrameSource>;
  /** rig.excitation_sources name → laser. */
  lasers: ReadonlyMap<string, ExcitationSource>;
  /** A PMT controller and which photodetector each of its channels drives. */
  photodetectors: readonly { controller: PhotodetectorController; channels: Readonly<Record<string, string>> }[];
  /** Poll interval of each bound device, by the profile's device name. */
  pollIntervalMs: ReadonlyMap<string, number>;
}

export interface SessionOptions {
  profile: RigProfile;
  metadata: SessionMetadata;
  out: string;
  overwrite: boolean;
  devices: RigDevices;
  /** Each series records at most this many samples (frames, or volumes); `filled` resolves once all have. */
  samplesPerSeries?: number;
  /**
   * How far the writer may fall behind before the frame sources are held (their producers then see failed
   * sends): default 64 MiB waiting, or the oldest sample waiting 300 ms. Both bound what a crash loses.
   */
  writeLimits?: Partial<WriteLimits>;
  log?: (line: string) => void;
}

export type SessionState = "idle" | "recording" | "stopping" | "closed";

/** A downsampled frame for a live view: uint16 pixels, binned so the longer side is at most 128. */
export interface Preview {
  /** dtype: the pixels' NumPy type string (little-endian uint16), for clients that decode them. */
  header: { series: string; time: number; shape: [number, number]; bin: number; dtype: "<u2" };
  pixels: Uint8Array;
}

/** At most this many previews per second and series. */
const PREVIEWS_PER_SECOND = 10;

export interface SessionStatus {
  state: SessionState;
  out: string;
  elapsed_s: number;
  /** Per series: samples written (queued to the writer) so far. */
  samples: Record<string, number>;
  /** Frames (planes) lost in all: every series, every cause (see `losses`). */
  dropped: number;
  /** Per series that lost any: frames (planes) and whole volumes lost, by cause. */
  losses: Record<string, SeriesLosses>;
  /**
   * Frames not part of this session, and not losses: received while no session listened (under rigd serve,
   * since the daemon started, between sessions too), or received in it but begun before it started (a
   * producer's backlog; the event record counts only these).
   */
  frames_before_start: number;
  /** Flyback frames received (the frame source's flyback_planes): expected, not stored, not losses. */
  flyback_frames: number;
  /** Frames of a channel or plane the profile records in no series: received, not stored, not losses. */
  unrecorded_frames: number;
  queue_bytes: number;
  events: number;
  /** Bytes of samples handed to the writer, and the file's size on disk. */
  written_bytes: number;
  file_bytes: number;
  /** Resident memory of this process, in MB. */
  rss_MB: number;
  /**
   * Per sample (frame, or volume at its last plane), ms from its arrival to written into the file and to
   * durable (fsynced by a checkpoint): p50, p99 and the largest over the session, as of the last checkpoint.
   */
  latency_ms: { written: Percentiles | null; durable: Percentiles | null };
  /** Free space on the output's file system (MB), and how long it lasts at the last minute's write rate (null: not writing). */
  disk_free_MB: number;
  minutes_left: number | null;
  /** Why the session stopped on its own (a failed write, a nearly full disk); absent while all is well. */
  error?: string;
  /** Every bound device (lasers, photodetectors, frame sources) by the profile's name: connection, losses, last fault. */
  devices: Record<string, DeviceStatus>;
  /** Per series the profile analyses online: frames offered, analysed, and skipped because the analysis was behind (recorded all the same). */
  analysis?: AnalysisStatus;
}

/** Telemetry series a device's state feeds: name, unit, how to read the value. */
interface Telemetry<S> {
  name: string;
  description: string;
  unit: string;
  continuity: "continuous" | "step";
  value: (state: S) => number | undefined;
}

const laserTelemetry = (name: string): Telemetry<ExcitationSourceState>[] => [
  { name: `${name}Power`, description: `Output power of ${name}, read back from the laser.`, unit: "W", continuity: "continuous", value: (s) => s.power_W },
  { name: `${name}Wavelength`, description: `Wavelength of ${name}, read back from the laser.`, unit: "m", continuity: "step", value: (s) => s.wavelength_nm * 1e-9 },
  { name: `${name}Shutter`, description: `Shutter of ${name}: 1 open, 0 closed.`, unit: "n.a.", continuity: "step", value: (s) => (s.shutter_open ? 1 : 0) },
  { name: `${name}Emission`, description: `Emission of ${name}: 1 on, 0 off.`, unit: "n.a.", continuity: "step", value: (s) => (s.emission ? 1 : 0) },
];

const pmtTelemetry = (channel: string, name: string, unit: string): Telemetry<PhotodetectorState>[] => [
  { name: `${name}Gain`, description: `Gain of ${name} as its controller sets it.`, unit, continuity: "step", value: (s) => s.channels[channel]?.gain },
  { name: `${name}Tripped`, description: `Overload protection of ${name}: 1 tripped (detector off), 0 normal.`, unit: "n.a.", continuity: "step", value: (s) => (s.channels[channel] ? (s.channels[channel]!.tripped ? 1 : 0) : undefined) },
  { name: `${name}Enabled`, description: `High voltage of ${name}'s controller: 1 on, 0 off.`, unit: "n.a.", continuity: "step", value: (s) => (s.enabled ? 1 : 0) },
];

/** NWB names are letters, digits and underscores here: telemetry series are named after devices. */
const nwbSafe = (name: string) => name.replace(/[^A-Za-z0-9_]/g, "");

/** A setting asked of no bound device, or of a property or value its device does not take: nothing was sent. */
export class InvalidSetting extends Error {}

export class Session {
  private stateValue: SessionState = "idle";
  private readonly subscriptions: Subscription[] = [];
  private readonly samples: Record<string, number> = {};
  /** Planes per volume of each volumetric series. */
  private readonly depths = new Map<string, number>();
  /** Per volumetric series, why a plane of the volume under way could not be written (its later planes are not tried). */
  private readonly failedVolumes = new Map<string, string>();
  private readonly eventSubject = new Subject<EngineEvent>();
  /**
   * Every event of the record (marks, settings, faults, losses): those made so far, then each as it is made. A
   * session makes some as it starts (a producer already streaming, a device not the one the profile names),
   * before anyone outside could have subscribed.
   */
  readonly events$: Observable<EngineEvent> = defer(() => concat(from(this.recorded.slice()), this.recordedSubject));
  /** Each event as the record keeps it (its source made NWB-safe), once kept: events$ replays and follows the same. */
  private readonly recordedSubject = new Subject<RigEvent>();
  private readonly losses = new LossRecorder((e) => this.event(e));
  private readonly watch: DeviceWatch;
  private eventCount = 0;
  private queueBytes = 0;
  private writtenBytes = 0;
  private readonly startedMs = Date.now();
  /** Frames the sources received unobserved before this session (a daemon's sources outlive sessions). */
  private readonly unobservedBefore: number;
  /** Frames received in the session that began before it. */
  private earlyFrames = 0;
  private flybackFrames = 0;
  private unrecordedFrames = 0;
  private writer: NwbWriter | undefined;
  /** Resolves with the writer once the file is laid out: frames and events arriving before wait for it. */
  private readonly writerReady: Promise<NwbWriter>;
  private setWriter: (w: NwbWriter) => void = () => undefined;
  private failWriter: (e: Error) => void = () => undefined;
  private pending: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private pipelines: Promise<void>[] = [];
  private stopFrames = new Subject<void>();
  private readonly previews = new Subject<Preview>();
  /** Downsampled frames at a bounded rate, for live views (rigd serve publishes them). */
  readonly previews$ = this.previews.asObservable();
  private readonly lastPreview = new Map<string, number>();
  private fill: () => void = () => undefined;
  /** Resolves once every series holds `samplesPerSeries` samples (never without that option). */
  readonly filled = new Promise<void>((resolve) => (this.fill = resolve));
  private end: (why: string) => void = () => undefined;
  /**
   * Resolves, with why in one line, when the session must stop on its own: a write failed (full disk, I/O
   * error, output removed), or free space fell below the profile's `stop_below_free_MB`. The caller then
   * calls stop(), which for a failed write throws what the file holds.
   */
  readonly mustStop = new Promise<string>((resolve) => (this.end = resolve));
  private endedWhy: string | undefined;
  private writeFailure: NwbWriteFailure | undefined;
  /** Every event handed to the writer, so that a file cut back by a failed write can be given them again. */
  private readonly recorded: RigEvent[] = [];
  private disk = { freeMB: 0, minutesLeft: null as number | null, warnedAtMinutes: Infinity, samples: [] as { ms: number; bytes: number }[] };
  private diskTimer: NodeJS.Timeout | undefined;
  private constructor(
    private readonly options: SessionOptions,
    /** The profile's online analysis (src/analysis, in a worker), if it asks for one. */
    private readonly analysis: SessionAnalysis | undefined,
  ) {
    this.writerReady = new Promise((resolve, reject) => {
      this.setWriter = resolve;
      this.failWriter = reject;
    });
    this.writerReady.catch(() => undefined); // a session that never started: each waiting write counts itself lost
    this.unobservedBefore = [...options.devices.frameSources.values()].reduce((n, s) => n + s.counts.unobserved, 0);
    this.watch = new DeviceWatch(options.devices, (ms) => Math.max(0, (ms - this.startedMs) / 1000), options.log ?? (() => undefined));
  }

  get state(): SessionState {
    return this.stateValue;
  }

  /**
   * Starts recording: from this call on, every frame and device event that arrives belongs to the session
   * (they wait, bounded, while the devices are identified and the file is laid out). Errors: the file cannot
   * be created (exists without `overwrite`, locked by another writer, unwritable), a device does not answer.
   */
  static async start(options: SessionOptions): Promise<Session> {
    const { profile, devices } = options;
    const log = options.log ?? (() => undefined);
    // Its ROIs read and checked before anything listens: a bad one fails the start, naming the profile field.
    const analysis = await SessionAnalysis.start(profile, (e) => session.event(e));
    const session: Session = new Session(options, analysis);
    // Listening comes first: a producer that starts sending when the session starts loses nothing.
    session.recordEvents();
    session.watch.start();
    session.startFrames();
    let writer: NwbWriter | undefined;
    try {
      const identities = new Map<string, ReportedIdentity>();
      for (const [name, laser] of devices.lasers) identities.set(name, { identity: await laser.identify(), own: true });
      for (const { controller, channels } of devices.photodetectors) {
        const identity = await controller.identify();
        // A controller of one detector is that detector (a Thorlabs PMT2100); one of several is only their controller.
        const detectors = Object.values(channels);
        for (const detector of detectors) identities.set(detector, { identity, own: detectors.length === 1 });
      }
      const plan = planNwb(profile, identities);
      writer = await NwbWriter.create(options.out, nwbMetadata(options.metadata, session.startedMs), {
        overwrite: options.overwrite,
        checkpointIntervalMs: profile.writer.checkpoint_interval_ms,
        // Small: what waits in the worker's queue is lost in a crash; the frame sources are held instead.
        maxQueuedBytes: 16 * 2 ** 20,
      });
      if (writer.pageCache) log(`note: ${options.out}: frames are written through the page cache (${writer.pageCache}): slower, no less safe`);
      await writePlan(writer, plan);
      await session.analysis?.layOut(writer, (series) => [...plan.planarSeries, ...plan.volumetricSeries].find((s) => s.name === series)!.imaging_space);
      for (const w of plan.warnings) {
        log(`warning: ${w}`);
        session.event({ time: 0, kind: "identity_mismatch", source: "profile", message: w });
      }
      session.writer = writer;
      session.setWriter(writer);
      void writer.failed.then((f) => {
        session.writeFailure = f;
        session.stopOnItsOwn(`writing ${options.out} failed: ${f.message}`);
      });
      session.watchDisk();
      await session.startTelemetry();
    } catch (e) {
      await session.abandon();
      await writer?.close().catch(() => undefined);
      throw e;
    }
    session.stateValue = "recording";
    return session;
  }

  /** Seconds on the session clock (from timestamps_reference_time). */
  now(): number {
    return (Date.now() - this.startedMs) / 1000;
  }

  status(): SessionStatus {
    return {
      state: this.stateValue,
      out: this.options.out,
      elapsed_s: this.now(),
      samples: { ...this.samples },
      dropped: this.losses.frames,
      losses: this.losses.losses,
      frames_before_start: this.unobservedBefore + this.earlyFrames,
      flyback_frames: this.flybackFrames,
      unrecorded_frames: this.unrecordedFrames,
      disk_free_MB: this.disk.freeMB,
      minutes_left: this.disk.minutesLeft,
      ...(this.endedWhy ? { error: this.endedWhy } : {}),
      queue_bytes: this.queueBytes + (this.writer?.queuedBytes ?? 0),
      events: this.eventCount,
      written_bytes: this.writtenBytes,
      file_bytes: existsSync(this.options.out) ? statSync(this.options.out).size : 0,
      rss_MB: Math.round(process.memoryUsage().rss / 1e6),
      latency_ms: { written: this.writer?.latency.written ?? null, durable: this.writer?.latency.durable ?? null },
      devices: this.watch.status(),
      ...(this.analysis ? { analysis: this.analysis.status() } : {}),
    };
  }

  /** The online analysis' results, one message per frame analysed (nothing without `analysis:` in the profile). */
  get traces$(): Observable<TracesMessage> {
    return this.analysis?.traces$ ?? EMPTY;
  }

  /** A user's mark in the event record, at the current time. */
  mark(text: string): void {
    this.event({ time: this.now(), kind: "mark", source: "user", message: text });
  }

  /**
   * Changes a device setting mid-session (tune the laser, close its shutter, set a PMT's gain) and
   * records it in the event record once the device confirms it. `device` is the profile's name.
   */
  async set(device: string, property: string, value: number | boolean): Promise<void> {
    const { lasers, photodetectors } = this.options.devices;
    const laser = lasers.get(device);
    const pmt = photodetectors.find((p) => Object.values(p.channels).includes(device));
    const expect = <T>(ok: boolean, what: string): T => {
      if (!ok) throw new InvalidSetting(`${device}.${property}: expected ${what}, got ${JSON.stringify(value)}`);
      return value as T;
    };
    // A setter resolves with the reading that confirmed the setting, stamped when it took effect: the event's time.
    const setting = (): Promise<Stamped<unknown>> => {
      if (laser) {
        switch (property) {
          case "shutter": return laser.setShutter(expect<boolean>(typeof value === "boolean", "true (open) or false (closed)"));
          case "emission": return laser.setEmission(expect<boolean>(typeof value === "boolean", "true or false"));
          case "wavelength_nm": return laser.setWavelength(expect<number>(typeof value === "number", "a wavelength in nm"));
          case "power_W": return laser.setPower(expect<number>(typeof value === "number", "a power in W"));
          default: throw new InvalidSetting(`${device}: no property '${property}' (shutter, emission, wavelength_nm, power_W)`);
        }
      }
      if (pmt) {
        const channel = Object.entries(pmt.channels).find(([, d]) => d === device)![0];
        switch (property) {
          case "gain": return pmt.controller.setGain(channel, expect<number>(typeof value === "number", `a gain in ${pmt.controller.gainUnit}`));
          case "enabled": return pmt.controller.setEnabled(expect<boolean>(typeof value === "boolean", "true or false"));
          case "reset_trip": return pmt.controller.resetTrip();
          default: throw new InvalidSetting(`${device}: no property '${property}' (gain, enabled, reset_trip)`);
        }
      }
      throw new InvalidSetting(`no bound device named '${device}' (lasers: ${[...lasers.keys()].join(", ") || "none"}; photodetectors: ${photodetectors.flatMap((p) => Object.values(p.channels)).join(", ") || "none"})`);
    };
    const confirming = setting(); // bad arguments throw here, before anything reaches the device
    try {
      const { time } = await confirming;
      this.event({ time: (time - this.startedMs) / 1000, kind: "command", source: device, message: `${property} set to ${JSON.stringify(value)}` });
    } catch (e) {
      // The device refused or never confirmed it: the record says what was asked and did not happen.
      this.event({ time: this.now(), kind: "command_refused", source: device, message: `${property} set to ${JSON.stringify(value)} was not done: ${(e as Error).message}` });
      throw e instanceof UnsupportedSetting ? new InvalidSetting(e.message) : e;
    }
  }

  /** Adds an entry to the event record (times are kept in order for the file). */
  event(e: EngineEvent): void {
    this.eventSubject.next(e);
  }

  /** Stops the sources, drains the queue, writes the last samples and closes the file. */
  async stop(): Promise<CheckpointReport> {
    if (this.stateValue !== "recording") throw new Error(`the session is ${this.stateValue}, not recording`);
    this.stateValue = "stopping";
    clearInterval(this.diskTimer);
    try {
      await this.drain(() => {
        if (this.writeFailure?.saved) this.cutBack(this.writeFailure.saved);
      });
      const writer = this.writer!;
      if (this.writeFailure?.closed) {
        // The file was cut back and closed: what the record lacks since its last checkpoint goes in now.
        const note = `closed when writing failed (${this.writeFailure.message}); the session's events after its last checkpoint were added after that`;
        await writer.completeEvents(this.recorded, note).catch((e: Error) => this.options.log?.(`error: ${e.message}`));
      }
      let report: CheckpointReport;
      try {
        report = await writer.close();
      } catch (e) {
        // A failure in the last checkpoint itself: too late to complete the record, not to count the losses.
        if (e instanceof NwbWriteFailure && e.saved && !this.writeFailure) this.cutBack(e.saved);
        throw new Error(`${this.endedWhy ?? (e as Error).message}; ${await this.holds()}`);
      }
      if (this.failure) throw this.failure;
      return report;
    } finally {
      this.stateValue = "closed";
    }
  }

  /** Samples handed to the writer after its last good checkpoint were cut back with the file: they are losses too. */
  private cutBack(saved: CheckpointReport): void {
    for (const [series, handed] of Object.entries(this.samples)) {
      const n = handed - (saved.samples[series] ?? 0);
      if (n <= 0) continue;
      const depths = this.depths.get(series);
      this.lose({ series, cause: "not_written", time: this.now(), frames: n * (depths ?? 1), volumes: depths ? n : 0, detail: "written after the last good checkpoint, cut back with it when writing failed" });
      this.samples[series] = handed - n; // status says what the file holds
    }
    this.losses.flush();
  }

  /** What the file holds, read back from it: per series samples and time, events; or that it cannot be read. */
  private async holds(): Promise<string> {
    try {
      // Imported here: at the top it would load h5wasm (~40 MB resident) on the main thread for the whole session.
      const { summarize } = await import("../nwb/inspect.js");
      const f = await summarize(this.options.out);
      const series = f.series.filter((s) => s.neurodata_type.endsWith("MicroscopySeries")).map((s) => `${s.path.split("/").pop()} ${s.samples} samples over ${s.duration_s.toFixed(1)} s`);
      return `${this.options.out} holds ${series.join(", ") || "no samples"} and ${f.events.length} events (every one readable); ${describeLosses(this.losses.losses)}`;
    } catch (e) {
      return `${this.options.out} cannot be read back (${(e as Error).message}): \`rigd recover ${this.options.out}\` makes what its last checkpoint holds readable`;
    }
  }

  /** Says once why the session must stop, in the event record, and tells whoever runs it (who says it to the user). */
  private stopOnItsOwn(why: string): void {
    if (this.endedWhy) return;
    this.endedWhy = why;
    this.event({ time: this.now(), kind: "fault", source: "rigd", message: why });
    this.end(why);
  }

  /**
   * Four times a second: free space on the output's disk and how long it lasts at the write rate of the last minute;
   * a warning (log + event) under `warn_below_free_minutes`, again each time what is left halves; and a clean
   * stop under `stop_below_free_MB`, while there is still room to close the file.
   */
  private watchDisk(): void {
    const { stop_below_free_MB: stopMB, warn_below_free_minutes: warnMinutes } = this.options.profile.writer;
    const check = () => {
      let free: number;
      try {
        free = freeBytes(this.options.out);
      } catch (e) {
        return this.stopOnItsOwn(`cannot read the free space of ${this.options.out}'s disk: ${(e as Error).message}`);
      }
      const now = Date.now();
      const d = this.disk;
      d.samples.push({ ms: now, bytes: this.writtenBytes });
      // A minute's average: a burst (a producer's backlog draining) is not a rate the disk must last at.
      while (d.samples.length > 1 && now - d.samples[0]!.ms > 60_000) d.samples.shift();
      const first = d.samples[0]!;
      const rate = now > first.ms ? ((this.writtenBytes - first.bytes) / (now - first.ms)) * 1000 : 0; // bytes/s
      d.freeMB = Math.round(free / 1e6);
      d.minutesLeft = rate > 0 ? Math.round((free / rate / 60) * 10) / 10 : null;
      if (stopMB > 0 && free < stopMB * 1e6) {
        return this.stopOnItsOwn(`stopping while the file can still be closed: ${d.freeMB} MB free on ${this.options.out}'s disk, under the profile's stop_below_free_MB of ${stopMB}`);
      }
      const measured = now - first.ms >= 10_000;
      if (warnMinutes > 0 && measured && d.minutesLeft !== null && d.minutesLeft < warnMinutes && d.minutesLeft <= d.warnedAtMinutes / 2) {
        d.warnedAtMinutes = d.minutesLeft;
        const left = d.minutesLeft >= 1 ? `${d.minutesLeft} minutes` : `${Math.round(d.minutesLeft * 60)} s`;
        const warning = `${d.freeMB} MB free on ${this.options.out}'s disk: about ${left} left at ${(rate / 1e6).toFixed(1)} MB/s`;
        this.options.log?.(`warning: ${warning}`);
        this.event({ time: this.now(), kind: "disk_space", source: "rigd", message: warning });
      }
    };
    check();
    // Four times a second: at light-sheet rates a second is hundreds of MB.
    this.diskTimer = setInterval(check, 250);
    this.diskTimer.unref();
  }

  /**
   * Ends listening: the sources' last frames go through, held losses and events are written (after `last`,
   * which may add some), previews end.
   */
  private async drain(last: () => void = () => undefined): Promise<void> {
    this.stopFrames.next();
    this.stopFrames.complete();
    await Promise.all(this.pipelines);
    this.losses.flush();
    this.watch.stop();
    last();
    // The online analysis' last results (trace rows, summary images) go in while the record still takes events;
    // a failure of it is said there, and the recording stands.
    await this.analysis?.finish().catch((e: Error) => {
      if (e instanceof NwbWriteFailure) return; // the writer's failure, said once as the session's
      this.options.log?.(`error: online analysis: ${e.message}`);
      this.event({ time: this.now(), kind: "fault", source: "analysis", message: `online analysis: ${e.message}` });
    });
    if (this.earlyFrames > 1) this.event({ time: this.now(), kind: "before_start", source: "rigd", message: `${this.earlyFrames} frames in all began before the session started and are not recorded` });
    this.eventSubject.complete();
    this.recordedSubject.complete();
    for (const s of this.subscriptions) s.unsubscribe();
    this.previews.complete();
    await this.pending;
  }

  /** A session that never started: what it listened to is let go, and what waited for the file is not written. */
  private async abandon(): Promise<void> {
    clearInterval(this.diskTimer);
    this.failWriter(new Error("the session did not start"));
    await this.drain();
  }

  private lose(loss: Loss): void {
    this.losses.record(loss);
  }

  /** A frame no series records: a flyback frame (a plane past the imaged ones), or a channel or plane the profile leaves out. */
  private unrouted(frame: Frame, imagedPlanes: number): void {
    releaseFrame(frame.data);
    if (frame.plane >= imagedPlanes) this.flybackFrames++;
    else this.unrecordedFrames++;
  }

  /** Frames that began before the session started, delivered after (a producer's backlog): counted, said once. */
  private early(source: string, frames: number): void {
    if (frames === 0) return;
    const first = this.earlyFrames === 0;
    this.earlyFrames += frames;
    if (first) {
      this.event({ time: 0, kind: "before_start", source, message: "frames that began before the session started (a backlog the producer had queued) are not recorded: status counts them in frames_before_start" });
    }
  }

  /** Writer calls made outside the frame pipelines (events, telemetry) run in order, and a failure is kept. */
  private enqueue(task: (writer: NwbWriter) => Promise<unknown>): void {
    this.pending = this.pending
      .then(() => this.writerReady)
      .then(task)
      .catch((e: Error) => {
        // A failed write is said once, by stopOnItsOwn; other errors here are the first of their kind.
        if (this.failure || e instanceof NwbWriteFailure) return;
        this.failure = e;
        this.options.log?.(`error: ${e.message}`);
      });
  }

  private recordEvents(): void {
    /** Events waiting for the writer: those that come while it is busy go in with them, in one request. */
    let batch: RigEvent[] | undefined;
    this.subscriptions.push(
      // Straight to the file: one dated back (a shutter confirmed a second after it moved) goes in at its place in time.
      this.eventSubject.subscribe((e) => {
        this.eventCount++;
        const event = { time: e.time, kind: e.kind, source: nwbSafeSource(e.source), message: e.message };
        this.recorded.push(event);
        this.recordedSubject.next(event);
        if (batch) return void batch.push(event);
        batch = [event];
        this.enqueue((w) => {
          const events = batch!;
          batch = undefined;
          return w.addEvents(events);
        });
      }),
    );
    const { lasers, photodetectors, frameSources } = this.options.devices;
    const deviceEvents = [
      ...[...lasers].map(([name, d]) => d.events$.pipe(mapSource(name))),
      ...photodetectors.map((p) => p.controller.events$.pipe(mapSource(Object.values(p.channels).join(" + ")))),
      ...[...frameSources].map(([name, s]) => s.events$.pipe(mapSource(name))),
    ];
    this.subscriptions.push(merge(...deviceEvents).subscribe(({ source, e }) => this.event({ time: Math.max(0, (e.time - this.startedMs) / 1000), kind: e.kind, source, message: e.message })));
  }

  private async startTelemetry(): Promise<void> {
    const { lasers, photodetectors, pollIntervalMs } = this.options.devices;
    const feeds: { device: { state$: Observable<Stamped<unknown>>; startPolling(ms: number): void }; interval: number; series: Telemetry<unknown>[] }[] = [];
    for (const [name, laser] of lasers) feeds.push({ device: laser, interval: pollIntervalMs.get(name) ?? 1000, series: laserTelemetry(nwbSafe(name)) as Telemetry<unknown>[] });
    for (const { controller, channels } of photodetectors) {
      const series = Object.entries(channels).flatMap(([ch, detector]) => pmtTelemetry(ch, nwbSafe(detector), controller.gainUnit));
      const interval = Math.min(...Object.values(channels).map((d) => pollIntervalMs.get(d) ?? 1000));
      feeds.push({ device: controller, interval, series: series as Telemetry<unknown>[] });
    }
    for (const feed of feeds) {
      const infos: SeriesInfo[] = [];
      for (const t of feed.series) {
        infos.push(await this.writer!.createTelemetrySeries({ name: t.name, description: t.description, unit: t.unit, continuity: t.continuity, clock: { timestamps: true } }));
      }
      let last = -1;
      this.subscriptions.push(
        feed.device.state$.subscribe(({ time, state }) => {
          const t = (time - this.startedMs) / 1000;
          if (t <= last || t < 0) return; // two readings in one millisecond: keep the first
          last = t;
          feed.series.forEach((series, i) => {
            const v = series.value(state);
            if (v === undefined) return;
            this.enqueue((w) => w.append(infos[i]!, Float64Array.of(v), [t]));
          });
        }),
      );
      feed.device.startPolling(feed.interval);
    }
  }

  /** Bins a frame into a preview when its series is due one (only while someone could be watching). */
  private preview(t: TaggedFrame): void {
    if (!this.previews.observed) return;
    const now = Date.now();
    if (now - (this.lastPreview.get(t.series) ?? 0) < 1000 / PREVIEWS_PER_SECOND) return;
    this.lastPreview.set(t.series, now);
    const [h, w] = t.frame.shape;
    const bin = Math.max(1, Math.ceil(Math.max(h, w) / 128));
    const ph = Math.floor(h / bin);
    const pw = Math.floor(w / bin);
    const out = new Uint16Array(ph * pw);
    const src = t.frame.data;
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        let sum = 0;
        for (let dy = 0; dy < bin; dy++) for (let dx = 0; dx < bin; dx++) sum += src[(y * bin + dy) * w + x * bin + dx]!;
        out[y * pw + x] = Math.min(65535, Math.max(0, Math.round(sum / (bin * bin))));
      }
    }
    this.previews.next({ header: { series: t.series, time: t.time, shape: [ph, pw], bin, dtype: "<u2" }, pixels: new Uint8Array(out.buffer) });
  }

  /** One sample to the file, once it is open; one that cannot be written is a loss, never an error in the pipeline. */
  private async write(s: Sample, bytes: number): Promise<void> {
    if (!("data" in s)) return this.writeVolume(s, bytes);
    try {
      const writer = await this.writerReady;
      await writer.append(s.series, s.data, [s.time], s.received);
      this.analysis?.written(s.series, s.time);
      this.samples[s.series] = (this.samples[s.series] ?? 0) + 1;
      this.writtenBytes += bytes;
    } catch (e) {
      releaseSample(s); // the writer frees what reached it; this frees what never did
      this.lose({ series: s.series, cause: "not_written", time: s.time, frames: 1, volumes: 0, detail: (e as Error).message });
      if (!(e instanceof NwbWriteFailure)) this.failure ??= e as Error;
    }
  }

  /**
   * A plane of a volume, or word that the volume will not be whole. A volume is counted once: written (its last
   * plane in), or lost with every plane of it that arrived — not written (a plane failed: the rest of the volume
   * is not tried) or incomplete (assembleVolumes' detail).
   */
  private async writeVolume(s: Exclude<Sample, { data: unknown }>, bytes: number): Promise<void> {
    const failed = this.failedVolumes.get(s.series);
    if ("incomplete" in s) {
      this.failedVolumes.delete(s.series);
      if (failed !== undefined) return; // its planes are counted lost already
      await this.writerReady.then((w) => w.dropPartialVolume(s.series)).catch(() => undefined); // a failed writer keeps nothing anyway
      // Cut short by a failed write (the session then stops), its planes were not written; otherwise a plane never came.
      const cause = this.writeFailure ? "not_written" : "incomplete_volume";
      this.lose({ series: s.series, cause, time: s.time, frames: s.incomplete.planes, volumes: 1, detail: this.writeFailure?.message ?? s.incomplete.detail });
      return;
    }
    const last = completesSample(s);
    if (last) this.failedVolumes.delete(s.series);
    if (failed !== undefined) {
      releaseSample(s);
      this.lose({ series: s.series, cause: "not_written", time: s.time, frames: 1, volumes: 0, detail: failed });
      return;
    }
    try {
      const writer = await this.writerReady;
      await writer.appendPlane(s.series, s.depth, s.plane, last ? s.time : undefined, last ? s.received : undefined);
      this.writtenBytes += bytes;
      if (last) {
        this.samples[s.series] = (this.samples[s.series] ?? 0) + 1;
        this.analysis?.written(s.series, s.time);
      }
    } catch (e) {
      releaseSample(s);
      const detail = (e as Error).message;
      if (!last) this.failedVolumes.set(s.series, detail);
      await this.writerReady.then((w) => w.dropPartialVolume(s.series)).catch(() => undefined);
      this.lose({ series: s.series, cause: "not_written", time: s.time, frames: s.depth + 1, volumes: 1, detail });
      if (!(e instanceof NwbWriteFailure)) this.failure ??= e as Error;
    }
  }

  private startFrames(): void {
    const { profile, devices } = this.options;
    const routes = new Map<string, Route>();
    for (const s of profile.recording.series) {
      const source = profile.recording.frame_sources.find((f) => f.name === s.frames.source)!;
      if (s.neurodata_type === "PlanarMicroscopySeries") routes.set(routeKey(source.name, s.frames.channel, s.frames.plane), { series: s.name, depths: 0 });
      else for (let p = 0; p < source.plane_count; p++) routes.set(routeKey(source.name, s.frames.channel, p), { series: s.name, depths: source.plane_count });
      this.samples[s.name] = 0;
      if (s.neurodata_type !== "PlanarMicroscopySeries") this.depths.set(s.name, source.plane_count);
    }
    const emit = (e: EngineEvent) => this.event(e);
    const lose = (loss: Loss) => this.lose(loss);
    const limit = this.options.samplesPerSeries;
    const limited = limit === undefined ? (samples: Observable<Sample>) => samples : limitSamples(limit, Object.keys(this.samples), this.fill);
    const clocks = new Map(profile.recording.frame_sources.map((f) => [f.name, f.clock]));
    const planes = new Map(profile.recording.frame_sources.map((f) => [f.name, f.plane_count]));
    const { maxBytes = 64 * 2 ** 20, maxLagMs = 300 } = this.options.writeLimits ?? {};
    const writing = () => this.writer !== undefined;
    // The lag bounds what a crash loses; before the file exists (devices being identified) nothing can be lost
    // to a crash, so frames wait by bytes alone rather than make the producer drop the session's first seconds.
    const limits: WriteLimits = {
      maxBytes,
      get maxLagMs() {
        return writing() ? maxLagMs : Infinity;
      },
    };
    for (const [name, source] of devices.frameSources) {
      const pipeline = source.frames$.pipe(
        takeUntil(this.stopFrames),
        tagAndTime(name, routes, this.startedMs, clocks.get(name) ?? "hardware", (f) => this.unrouted(f, planes.get(name) ?? 1), emit, lose, (n) => this.early(name, n)),
        tap((t) => {
          this.preview(t);
          this.analysis?.offer(t.series, t.time, t.frame);
        }),
        recordGaps(lose),
        assembleVolumes(routes, lose),
        limited,
        boundedWrite(limits, (s, bytes) => this.write(s, bytes), (until) => source.hold(until), (bytes) => (this.queueBytes = bytes)),
      );
      this.pipelines.push(
        new Promise<void>((resolve) =>
          pipeline.subscribe({
            complete: resolve,
            error: (e: Error) => {
              this.failure ??= e;
              this.options.log?.(`error: ${name}: ${e.message}`);
              resolve();
            },
          }),
        ),
      );
    }
  }
}

const mapSource = (source: string) => map((e: DeviceEvent) => ({ source, e }));
/** Event sources appear in "[source]": keep the brackets unambiguous. */
const nwbSafeSource = (source: string) => source.replace(/[\]\n]/g, " ");

/** The writer's metadata from the session's, with the session clock starting now. */
function nwbMetadata(m: SessionMetadata, startedMs: number): NwbFileMetadata {
  const { subject, ...rest } = m;
  return {
    ...rest,
    session_start_time: isoNow(new Date(startedMs)),
    subject: {
      ...subject,
      // nwbinspector wants a description on the subject; one made of the given facts invents nothing.
      description: subject.description ?? `${subject.species}, ${subject.sex}, age ${subject.age}, subject ${subject.subject_id}.`,
    },
  };
}

/** What a session's end warns of, for the person who ran it: frame sources that sent nothing, series too short for nwbinspector. */
export function sessionWarnings(profile: RigProfile, samples: Readonly<Record<string, number>>): string[] {
  return [...silentFrameSources(profile, samples), ...tooShortForInspector(profile, samples)];
}

/**
 * nwbinspector's check_data_orientation (CRITICAL) wants time to be the longest axis of a series' data: for each
 * microscopy series of `profile` with no more `samples` than pixels (or depths) along an axis, a line saying so
 * and how long a session must run at the profile's rate (frame_rate_in_Hz ÷ (plane_count + flyback_planes) samples/s).
 */
function tooShortForInspector(profile: RigProfile, samples: Readonly<Record<string, number>>): string[] {
  return profile.recording.series.flatMap((s) => {
    const source = profile.recording.frame_sources.find((f) => f.name === s.frames.source)!;
    const axes = s.neurodata_type === "VolumetricMicroscopySeries" ? [...source.frame_shape, source.plane_count] : [...source.frame_shape];
    const longest = Math.max(...axes);
    const n = samples[s.name] ?? 0;
    if (n === 0 || n > longest) return [];
    const rate = source.frame_rate_in_Hz / (source.plane_count + source.flyback_planes);
    return [`${s.name} holds ${n} samples of ${axes.join("×")}: nwbinspector's check_data_orientation (critical) wants more samples than ${longest}, the longest other axis: at ${Number(rate.toFixed(2))} samples/s a session of at least ${Math.ceil((longest + 1) / rate)} s`];
  });
}

/**
 * A frame source none of whose series got a sample: a producer pointed elsewhere, or not running, leaves a file that
 * holds no frames and loses none, which must not pass unsaid.
 */
function silentFrameSources(profile: RigProfile, samples: Readonly<Record<string, number>>): string[] {
  return profile.recording.frame_sources.flatMap((source) => {
    const series = profile.recording.series.filter((s) => s.frames.source === source.name);
    if (series.length === 0 || series.some((s) => (samples[s.name] ?? 0) > 0)) return [];
    const address = profile.bindings.flatMap((b) => (b.driver === "zmq-frames" && b.device === source.name ? [` at ${b.address}`] : []))[0] ?? "";
    return [`no frames came from frame source ${source.name}${address}: is the acquisition software running, and sending there?`];
  });
}

/** Losses for a person, per series and cause: "nothing lost", or "Green 12 frames (12 producer gap); Vol 3 volumes (incomplete_volume 3), 7 planes (…)". */
export function describeLosses(losses: Record<string, SeriesLosses>): string {
  const causes = (counts: Record<string, number>) => Object.entries(counts).filter(([, n]) => n > 0).map(([c, n]) => `${n} ${c.replace("_", " ")}`).join(", ");
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  const parts = Object.entries(losses).flatMap(([series, l]) => {
    const volumes = sum(l.volumes);
    const frames = sum(l.frames);
    if (volumes + frames === 0) return [];
    const what = [volumes ? `${counted(volumes, "volumes")} (${causes(l.volumes)})` : "", frames ? `${counted(frames, volumes ? "planes" : "frames")} (${causes(l.frames)})` : ""].filter(Boolean);
    return [`${series} ${what.join(", ")}`];
  });
  return parts.length ? `lost: ${parts.join("; ")}` : "nothing lost";
}
