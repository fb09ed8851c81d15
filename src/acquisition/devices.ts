// The profile's bindings as connected drivers: one per bound device, on its real port or on the port
// of its simulator. The engine sees only the device-kind interfaces. And how each device fares in a
// session, for status, the console and the summary.
import type { Subscription } from "rxjs";
import type { DeviceBinding, RigProfile } from "../config/index.js";
import { CoboltLaser } from "../drivers/cobolt.js";
import { CoherentChameleon } from "../drivers/coherent-chameleon.js";
import type { DeviceEvent } from "../drivers/device.js";
import type { ExcitationSource } from "../drivers/excitation-source.js";
import type { FrameSource, RejectReason } from "../drivers/frame-source.js";
import type { PhotodetectorController } from "../drivers/photodetector.js";
import { ScientificaPmtController } from "../drivers/scientifica-pmt.js";
import type { SerialSettings } from "../drivers/serial-line.js";
import { SpectraPhysicsMaiTai } from "../drivers/spectra-physics-maitai.js";
import { ThorlabsPmt2100 } from "../drivers/thorlabs-pmt2100.js";
import { ZmqFrameSource } from "../drivers/zmq-frames.js";
import type { RigDevices } from "./session.js";

export interface ConnectedRig extends RigDevices {
  close(): Promise<void>;
}

/**
 * Connects every bound device. `ports` gives the port of a binding (by index) whose device is simulated;
 * the others use the profile's port.
 */
export async function connectRig(profile: RigProfile, ports: ReadonlyMap<number, string> = new Map()): Promise<ConnectedRig> {
  const lasers = new Map<string, ExcitationSource>();
  const frameSources = new Map<string, FrameSource>();
  const photodetectors: { controller: PhotodetectorController; channels: Record<string, string> }[] = [];
  const pollIntervalMs = new Map<string, number>();
  const all: { close(): Promise<void> }[] = [];
  const rig: ConnectedRig = {
    lasers,
    frameSources,
    photodetectors,
    pollIntervalMs,
    close: async () => {
      await Promise.allSettled(all.map((d) => d.close()));
    },
  };
  try {
    for (const [index, b] of profile.bindings.entries()) {
      if (b.driver === "zmq-frames") {
        const spec = profile.recording.frame_sources.find((f) => f.name === b.device)!;
        const source = new ZmqFrameSource({ address: b.address, frame_shape: spec.frame_shape, data_type: spec.data_type, channel_count: spec.channel_count, plane_count: spec.plane_count, flyback_planes: spec.flyback_planes, clock: spec.clock });
        all.push(source);
        await source.connect();
        frameSources.set(b.device, source);
        continue;
      }
      const path = ports.get(index) ?? b.port;
      if (!path) throw new Error(`binding ${index} (${b.driver}) has no port and is not simulated`);
      const settings = serialSettings(b, path);
      pollIntervalMs.set("device" in b ? b.device : "", b.poll_interval_ms);
      switch (b.driver) {
        case "spectra-physics-maitai":
        case "coherent-chameleon":
        case "cobolt": {
          const laser = laserFor(b.driver, settings, profile, b.device);
          all.push(laser);
          await laser.connect();
          lasers.set(b.device, laser);
          break;
        }
        case "scientifica-pmt": {
          const controller = new ScientificaPmtController(settings);
          all.push(controller);
          await controller.connect();
          const channels = Object.fromEntries(Object.entries(b.photodetectors).filter(([, d]) => d !== undefined)) as Record<string, string>;
          for (const d of Object.values(channels)) pollIntervalMs.set(d, b.poll_interval_ms);
          photodetectors.push({ controller, channels });
          break;
        }
        case "thorlabs-pmt2100": {
          const controller = new ThorlabsPmt2100(settings);
          all.push(controller);
          await controller.connect();
          pollIntervalMs.set(b.device, b.poll_interval_ms);
          photodetectors.push({ controller, channels: { [controller.channels[0]!]: b.device } });
          break;
        }
      }
    }
  } catch (e) {
    await rig.close();
    throw e;
  }
  return rig;
}

function serialSettings(b: Exclude<DeviceBinding, { driver: "zmq-frames" }>, path: string): SerialSettings & { path: string } {
  if (b.parity === "mark" || b.parity === "space" || b.stop_bits === 1.5) {
    throw new Error(`${b.driver} on ${path}: parity ${b.parity} / ${b.stop_bits} stop bits are not supported by the serial driver`);
  }
  return { path, baudRate: b.baud_rate, dataBits: b.data_bits, parity: b.parity, stopBits: b.stop_bits };
}

function laserFor(driver: "spectra-physics-maitai" | "coherent-chameleon" | "cobolt", settings: SerialSettings & { path: string }, profile: RigProfile, device: string): ExcitationSource {
  const source = profile.rig.excitation_sources.find((s) => s.name === device);
  const model = profile.rig.models.find((m) => m.name === source?.model);
  switch (driver) {
    case "spectra-physics-maitai":
      return new SpectraPhysicsMaiTai(settings);
    case "coherent-chameleon":
      return new CoherentChameleon(settings, model?.name ?? "Chameleon Ultra II");
    case "cobolt": {
      // Cobolt lasers do not report their wavelength: it is the (fixed) one its channels use.
      const nm = profile.channels.find((c) => c.excitation_source === device)?.excitation_wavelength_in_nm;
      if (nm === undefined) throw new Error(`Cobolt '${device}': no channel names it as its excitation source, so its wavelength is unknown`);
      return new CoboltLaser(settings, nm);
    }
  }
}

/** How a device fares in a session (times in session seconds). */
interface DeviceHealth {
  /** "disconnected" while rigd has lost it (its serial port gone, reopening); a frame source is connected while a producer is. */
  connection: "connected" | "disconnected";
  /**
   * Times rigd lost it this session (a serial port gone, a producer gone mid-acquisition; a producer that closes at
   * the end of its acquisition is no loss), seconds it was gone in all (counting while it is), and since when it is
   * gone (null while it is not).
   */
  lost: { times: number; seconds: number; since: number | null };
  /** The latest fault it reported; null until one, and again once it reports it cleared. */
  fault: { time: number; message: string } | null;
}

/**
 * A device in the session's status, by the profile's device name; a frame source's also says how many producers are
 * connected now and the messages it rejected this session, by reason (docs/frame-protocol-v1.md).
 */
export type DeviceStatus =
  | ({ kind: "laser" | "photodetector" } & DeviceHealth)
  | ({ kind: "frame_source"; producers: number; rejected: Record<RejectReason, number> } & DeviceHealth);

type Watched = {
  /** Date.now() ms since when it is lost; undefined while it is not. */
  lostAt: number | undefined;
  times: number;
  /** Ms gone in the losses that ended. */
  goneMs: number;
  fault: { time: number; message: string } | undefined;
} & ({ kind: "laser" | "photodetector" } | { kind: "frame_source"; source: FrameSource; rejectedBefore: Record<RejectReason, number> });

/** A PMT's fault while its readings show it tripped. */
const TRIPPED = "overload protection tripped: the PMT is off until reset_trip";

/**
 * Watches a rig's devices for a session: losses and returns from their events, faults from their readings (a laser's
 * fault, a PMT's trip) and fault events, each said in one log line as it happens.
 */
export class DeviceWatch {
  private readonly watched = new Map<string, Watched>();
  private readonly subscriptions: Subscription[] = [];
  /** The status when the watch stopped: a session's devices as they were when it ended. */
  private final: Record<string, DeviceStatus> | undefined;

  constructor(
    private readonly rig: RigDevices,
    /** Date.now() ms → session seconds. */
    private readonly seconds: (ms: number) => number,
    private readonly log: (line: string) => void,
  ) {
    const fresh = { lostAt: undefined, times: 0, goneMs: 0, fault: undefined };
    for (const name of rig.lasers.keys()) this.watched.set(name, { kind: "laser", ...fresh });
    for (const { channels } of rig.photodetectors) for (const name of Object.values(channels)) this.watched.set(name, { kind: "photodetector", ...fresh });
    for (const [name, source] of rig.frameSources) this.watched.set(name, { kind: "frame_source", source, rejectedBefore: source.counts.rejected_by_reason, ...fresh });
  }

  /** From now on, what the devices say counts. */
  start(): void {
    const { lasers, photodetectors, frameSources } = this.rig;
    for (const [name, laser] of lasers) {
      this.subscriptions.push(
        laser.events$.subscribe((e) => this.event([name], e)),
        laser.state$.subscribe(({ time, state }) => this.reading(name, time, state.fault)),
      );
    }
    for (const { controller, channels } of photodetectors) {
      this.subscriptions.push(
        controller.events$.subscribe((e) => this.connection(Object.values(channels), e)),
        // Trips from readings, which say whose: a controller's fault events name a channel only in their text.
        controller.state$.subscribe(({ time, state }) => {
          for (const [channel, name] of Object.entries(channels)) this.reading(name, time, state.channels[channel]?.tripped ? TRIPPED : undefined);
        }),
      );
    }
    for (const [name, source] of frameSources) this.subscriptions.push(source.events$.subscribe((e) => this.event([name], e)));
  }

  /** Stops watching: status stays as it is now. */
  stop(): void {
    this.final ??= this.status();
    for (const s of this.subscriptions) s.unsubscribe();
  }

  status(): Record<string, DeviceStatus> {
    if (this.final) return this.final;
    const now = Date.now();
    return Object.fromEntries(
      [...this.watched].map(([name, w]): [string, DeviceStatus] => {
        const connected = w.kind === "frame_source" ? w.source.producers > 0 : w.lostAt === undefined;
        const health: DeviceHealth = {
          connection: connected ? "connected" : "disconnected",
          lost: { times: w.times, seconds: (w.goneMs + (w.lostAt === undefined ? 0 : now - w.lostAt)) / 1000, since: w.lostAt === undefined ? null : this.seconds(w.lostAt) },
          fault: w.fault ?? null,
        };
        if (w.kind !== "frame_source") return [name, { kind: w.kind, ...health }];
        const counts = w.source.counts.rejected_by_reason;
        const rejected = Object.fromEntries(Object.entries(counts).map(([reason, n]) => [reason, n - w.rejectedBefore[reason as RejectReason]])) as Record<RejectReason, number>;
        return [name, { kind: "frame_source", ...health, producers: w.source.producers, rejected }];
      }),
    );
  }

  /** A device's own event: a loss, a return, a fault, or messages a frame source rejected (throttled at the source). */
  private event(names: string[], e: DeviceEvent): void {
    this.connection(names, e);
    if (e.kind === "fault") for (const name of names) this.fault(name, e.time, e.message);
    // Said as they come, not only in the summary: a producer whose every frame is refused records nothing.
    if (e.kind === "garbage") this.log(`${names.join(" + ")}: ${e.message}`);
  }

  /** The devices behind one connection (a PMT controller's detectors share it) lost, or back: one log line for them. */
  private connection(names: string[], e: DeviceEvent): void {
    const label = names.join(" + ");
    const all = names.map((name) => this.watched.get(name)!);
    if (e.kind === "disconnected") {
      for (const w of all) {
        if (w.lostAt !== undefined) continue;
        w.lostAt = e.time;
        w.times++;
      }
      this.log(`${label}: disconnected (${e.message})`);
    } else if (e.kind === "reconnected" || e.kind === "producer_connected") {
      const since = all[0]!.lostAt;
      if (since === undefined) return;
      for (const w of all) {
        w.goneMs += e.time - (w.lostAt ?? e.time);
        w.lostAt = undefined;
      }
      this.log(`${label}: back after ${((e.time - since) / 1000).toFixed(1)} s`);
    }
  }

  /** What a reading says of a fault (undefined: none): a new one is said, one standing keeps its time, none clears it. */
  private reading(name: string, time: number, fault: string | undefined): void {
    const w = this.watched.get(name)!;
    if (fault === w.fault?.message) return;
    if (fault !== undefined) return this.fault(name, time, fault);
    w.fault = undefined;
    this.log(`${name}: fault cleared`);
  }

  private fault(name: string, time: number, message: string): void {
    this.watched.get(name)!.fault = { time: this.seconds(time), message };
    this.log(`${name}: fault: ${message}`);
  }
}

/**
 * Devices lost and messages rejected, for a person: "" when none, else e.g. "TiSapphireLaser lost once, 3.0 s in all;
 * ScanFrames rejected 12 messages (10 shape, 2 size)".
 */
export function describeTrouble(devices: Record<string, DeviceStatus>): string {
  return Object.entries(devices)
    .flatMap(([name, d]) => {
      const { times, seconds, since } = d.lost;
      const lost = times ? [`${name} lost ${times === 1 ? "once" : `${times} times`}, ${seconds.toFixed(1)} s in all${since === null ? "" : ", still gone"}`] : [];
      const total = rejectedTotal(d);
      if (!total || d.kind !== "frame_source") return lost;
      const reasons = Object.entries(d.rejected).filter(([, n]) => n > 0);
      return [...lost, `${name} rejected ${total} message${total === 1 ? "" : "s"} (${reasons.map(([reason, n]) => `${n} ${reason}`).join(", ")})`];
    })
    .join("; ");
}

/** Messages a frame source rejected this session, of all reasons (0 for other devices). */
export function rejectedTotal(d: DeviceStatus): number {
  return d.kind === "frame_source" ? Object.values(d.rejected).reduce((sum, n) => sum + n, 0) : 0;
}
