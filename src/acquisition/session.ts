// One recording session: devices identified, the file laid out from the profile, frames piped through
// the stages into the writer, device state sampled into telemetry and device events into the event
// record. Lifecycle: idle → recording → stopping → closed. After a normal stop the file is complete;
// after a crash the writer's last checkpoint holds.
import { existsSync, statSync } from "node:fs";
import { type Observable, type Subscription, Subject, filter, map, merge, takeUntil, tap } from "rxjs";
import type { RigProfile, SessionMetadata } from "../config/index.js";
import type { DeviceEvent, Stamped } from "../drivers/device.js";
import type { ExcitationSource, ExcitationSourceState } from "../drivers/excitation-source.js";
import type { FrameSource } from "../drivers/frame-source.js";
import type { PhotodetectorController, PhotodetectorState } from "../drivers/photodetector.js";
import { NwbWriter, isoNow, type CheckpointReport, type NwbFileMetadata, type SeriesInfo } from "../nwb/index.js";
import { type ReportedIdentity, planNwb, writePlan } from "./nwb-plan.js";
import { type EngineEvent, type Route, type TaggedFrame, assembleVolumes, boundedWrite, inTimeOrder, limitSamples, recordDrops, routeKey, type Sample, sampleBytes, tagAndTime } from "./stages.js";

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
  /** Bytes of samples that may wait for the writer before new ones are dropped and recorded (default 256 MiB). */
  maxQueuedBytes?: number;
  log?: (line: string) => void;
}

export type SessionState = "idle" | "recording" | "stopping" | "closed";

/** A downsampled frame for a live view: uint16 pixels, binned so the longer side is at most 128. */
export interface Preview {
  header: { series: string; time: number; shape: [number, number]; bin: number };
  pixels: Uint8Array;
}

/** At most this many previews per second and series. */
const PREVIEWS_PER_SECOND = 2;

/**
 * Events wait this long (s) before they go to the file, so that one dated back — a shutter setting is
 * confirmed about a second after the shutter moved — still goes in in order. A crash loses them too.
 */
const EVENT_HOLD_S = 2;

export interface SessionStatus {
  state: SessionState;
  out: string;
  elapsed_s: number;
  /** Per series: samples written (queued to the writer) so far. */
  samples: Record<string, number>;
  /** Frames the scanners' counters say never arrived, plus samples dropped by the engine. */
  dropped: number;
  queue_bytes: number;
  events: number;
  /** Bytes of samples handed to the writer, and the file's size on disk. */
  written_bytes: number;
  file_bytes: number;
  /** Resident memory of this process, in MB. */
  rss_MB: number;
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

export class Session {
  private stateValue: SessionState = "idle";
  private readonly subscriptions: Subscription[] = [];
  private readonly samples: Record<string, number> = {};
  private readonly events$ = new Subject<EngineEvent>();
  private eventCount = 0;
  private engineDrops = 0;
  private queueBytes = 0;
  private writtenBytes = 0;
  private startedMs = 0;
  /** Frames the sources had already missed before this session (a daemon's sources outlive sessions). */
  private missedBefore = 0;
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

  private constructor(
    private readonly options: SessionOptions,
    private readonly writer: NwbWriter,
  ) {}

  get state(): SessionState {
    return this.stateValue;
  }

  /** Identifies the devices, creates the file and starts recording. */
  static async start(options: SessionOptions): Promise<Session> {
    const { profile, devices } = options;
    const log = options.log ?? (() => undefined);
    const identities = new Map<string, ReportedIdentity>();
    for (const [name, laser] of devices.lasers) identities.set(name, { identity: await laser.identify(), own: true });
    for (const { controller, channels } of devices.photodetectors) {
      const identity = await controller.identify();
      // A controller of one detector is that detector (a Thorlabs PMT2100); one of several is only their controller.
      const detectors = Object.values(channels);
      for (const detector of detectors) identities.set(detector, { identity, own: detectors.length === 1 });
    }
    const plan = planNwb(profile, identities);
    const startedMs = Date.now();
    const writer = await NwbWriter.create(options.out, nwbMetadata(options.metadata, startedMs), {
      overwrite: options.overwrite,
      checkpointIntervalMs: profile.writer.checkpoint_interval_ms,
    });
    const session = new Session(options, writer);
    session.startedMs = startedMs;
    session.missedBefore = [...devices.frameSources.values()].reduce((n, s) => n + s.counts.missing, 0);
    try {
      await writePlan(writer, plan);
      session.recordEvents();
      for (const w of plan.warnings) {
        log(`warning: ${w}`);
        session.event({ time: 0, kind: "identity_mismatch", source: "profile", message: w });
      }
      await session.startTelemetry();
      session.startFrames();
    } catch (e) {
      await writer.close().catch(() => undefined);
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
    const scannerDrops = [...this.options.devices.frameSources.values()].reduce((n, s) => n + s.counts.missing, 0);
    return {
      state: this.stateValue,
      out: this.options.out,
      elapsed_s: this.startedMs ? this.now() : 0,
      samples: { ...this.samples },
      dropped: scannerDrops - this.missedBefore + this.engineDrops,
      queue_bytes: this.queueBytes + this.writer.queuedBytes,
      events: this.eventCount,
      written_bytes: this.writtenBytes,
      file_bytes: existsSync(this.options.out) ? statSync(this.options.out).size : 0,
      rss_MB: Math.round(process.memoryUsage().rss / 1e6),
    };
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
      if (!ok) throw new Error(`${device}.${property}: expected ${what}, got ${JSON.stringify(value)}`);
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
          default: throw new Error(`${device}: no property '${property}' (shutter, emission, wavelength_nm, power_W)`);
        }
      }
      if (pmt) {
        const channel = Object.entries(pmt.channels).find(([, d]) => d === device)![0];
        switch (property) {
          case "gain": return pmt.controller.setGain(channel, expect<number>(typeof value === "number", `a gain in ${pmt.controller.gainUnit}`));
          case "enabled": return pmt.controller.setEnabled(expect<boolean>(typeof value === "boolean", "true or false"));
          case "reset_trip": return pmt.controller.resetTrip();
          default: throw new Error(`${device}: no property '${property}' (gain, enabled, reset_trip)`);
        }
      }
      throw new Error(`no bound device named '${device}' (lasers: ${[...lasers.keys()].join(", ") || "none"}; photodetectors: ${photodetectors.flatMap((p) => Object.values(p.channels)).join(", ") || "none"})`);
    };
    const { time } = await setting();
    this.event({ time: (time - this.startedMs) / 1000, kind: "command", source: device, message: `${property} set to ${JSON.stringify(value)}` });
  }

  /** Adds an entry to the event record (times are kept in order for the file). */
  event(e: EngineEvent): void {
    this.events$.next(e);
  }

  /** Stops the sources, drains the queue, writes the last samples and closes the file. */
  async stop(): Promise<CheckpointReport> {
    if (this.stateValue !== "recording") throw new Error(`the session is ${this.stateValue}, not recording`);
    this.stateValue = "stopping";
    this.stopFrames.next();
    this.stopFrames.complete();
    await Promise.all(this.pipelines);
    this.events$.complete(); // releases the events still held (see EVENT_HOLD_S)
    for (const s of this.subscriptions) s.unsubscribe();
    this.previews.complete();
    await this.pending;
    try {
      const report = await this.writer.close();
      if (this.failure) throw this.failure;
      return report;
    } finally {
      this.stateValue = "closed";
    }
  }

  /** Writer calls made outside the frame pipelines (events, telemetry) run in order, and a failure is kept. */
  private enqueue(task: () => Promise<unknown>): void {
    this.pending = this.pending.then(task).catch((e: Error) => {
      this.failure ??= e;
      this.options.log?.(`error: ${e.message}`);
    });
  }

  private recordEvents(): void {
    this.subscriptions.push(
      this.events$.pipe(inTimeOrder(EVENT_HOLD_S, () => this.now())).subscribe((e) => {
        this.eventCount++;
        this.enqueue(() => this.writer.addEvent({ time: e.time, kind: e.kind, source: nwbSafeSource(e.source), message: e.message }));
      }),
    );
    const { lasers, photodetectors, frameSources } = this.options.devices;
    const deviceEvents = [
      ...[...lasers].map(([name, d]) => d.events$.pipe(mapSource(name))),
      ...photodetectors.map((p) => p.controller.events$.pipe(mapSource(Object.values(p.channels).join(" + ")))),
      // Gaps are recorded per series, at the frame after them, by the drops stage.
      ...[...frameSources].map(([name, s]) => s.events$.pipe(filter((e) => e.kind !== "dropped_frames"), mapSource(name))),
    ];
    this.subscriptions.push(merge(...deviceEvents).subscribe(({ source, e }) => this.event({ time: (e.time - this.startedMs) / 1000, kind: e.kind, source, message: e.message })));
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
        infos.push(await this.writer.createTelemetrySeries({ name: t.name, description: t.description, unit: t.unit, continuity: t.continuity, clock: { timestamps: true } }));
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
            this.enqueue(() => this.writer.append(infos[i]!, Float64Array.of(v), [t]));
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
    this.previews.next({ header: { series: t.series, time: t.time, shape: [ph, pw], bin }, pixels: new Uint8Array(out.buffer) });
  }

  private startFrames(): void {
    const { profile, devices } = this.options;
    const routes = new Map<string, Route>();
    for (const s of profile.recording.series) {
      const source = profile.recording.frame_sources.find((f) => f.name === s.frames.source)!;
      if (s.neurodata_type === "PlanarMicroscopySeries") routes.set(routeKey(source.name, s.frames.channel, s.frames.plane), { series: s.name, depths: 0 });
      else for (let p = 0; p < source.plane_count; p++) routes.set(routeKey(source.name, s.frames.channel, p), { series: s.name, depths: source.plane_count });
      this.samples[s.name] = 0;
    }
    const emit = (e: EngineEvent) => this.event(e);
    // Samples the engine itself gives up (a broken volume, a full queue), as opposed to counter gaps.
    const engineDrop = (e: EngineEvent) => {
      this.engineDrops++;
      this.event(e);
    };
    const limit = this.options.samplesPerSeries;
    const limited = limit === undefined ? (samples: Observable<Sample>) => samples : limitSamples(limit, Object.keys(this.samples), this.fill);
    const clocks = new Map(profile.recording.frame_sources.map((f) => [f.name, f.clock]));
    for (const [name, source] of devices.frameSources) {
      const pipeline = source.frames$.pipe(
        takeUntil(this.stopFrames),
        tagAndTime(name, routes, this.startedMs, clocks.get(name) ?? "hardware", () => undefined, (e) => (e.kind === "dropped_frames" ? engineDrop : emit)(e)),
        tap((t) => this.preview(t)),
        recordDrops(emit),
        assembleVolumes(routes, engineDrop),
        limited,
        boundedWrite(
          this.options.maxQueuedBytes ?? 256 * 1024 * 1024,
          async (s) => {
            const bytes = sampleBytes(s); // read before append: the buffers may be transferred
            if ("data" in s) await this.writer.append(s.series, s.data, [s.time]);
            else await this.writer.appendVolume(s.series, s.planes, s.time);
            this.samples[s.series] = (this.samples[s.series] ?? 0) + 1;
            this.writtenBytes += bytes;
          },
          engineDrop,
          (bytes) => (this.queueBytes = bytes),
        ),
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
