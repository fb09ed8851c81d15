// Every simulator a profile binds with `simulated: true`, started together and wired like the real rig:
// the scanner's frames follow the simulated laser (shutter, power, wavelength) and each channel's
// simulated PMT (gain, enabled, tripped). Each scanner runs in a process of its own (see scanner-process.ts). Lasers start as a lab leaves them before a session: warm,
// lasing at the wavelength of the first channel they excite, shutter open; PMTs enabled at 0.95 V.
import type { Driver, RigProfile } from "../src/config/index.js";
import { CoboltSimulator } from "./cobolt.js";
import { ChameleonSimulator } from "./coherent-chameleon.js";
import type { SimulatedPmt } from "./photodetector.js";
import type { LaserLight } from "./sample.js";
import { ScientificaPmtSimulator } from "./scientifica-pmt.js";
import { ScannerProcess } from "./scanner-process.js";
import type { SerialSimulator } from "./serial-simulator.js";
import { MaiTaiSimulator } from "./spectra-physics-maitai.js";
import { ThorlabsPmt2100Simulator } from "./thorlabs-pmt2100.js";
import { RESONANT, type ScanSummary } from "./zmq-scanner.js";

export interface SimulatedRig {
  /** For each simulated serial binding (by index in profile.bindings): the port a driver opens. */
  ports: Map<number, string>;
  /** Simulated lasers by the profile's device name, for tests that act on them directly. */
  lasers: Map<string, SerialSimulator & LaserLight>;
  /** Simulated PMTs by photodetector name. */
  pmts: Map<string, SimulatedPmt>;
  /** Where each simulator listens, for a person: "<device> (<driver>): <port or address>". */
  listing: string[];
  /** Starts the scanners; call once rigd has bound the frame sources' addresses (the scanner connects). */
  startScanners(options?: { dropProbability?: number }): void;
  /** By frame source name: each scanner's process, set up and waiting for startScanners. */
  scanners: Map<string, ScannerProcess>;
  /** Ends the scanners' acquisitions (before rigd stops listening, so their last frames are not left waiting). */
  stopScanners(): void;
  /** What each scanner acquired, sent and lost, once it has stopped. */
  scanSummaries(): Promise<Map<string, ScanSummary>>;
  stop(): Promise<void>;
}

const PMT_START_GAIN_V = 0.95;

export async function startSimulatedRig(profile: RigProfile): Promise<SimulatedRig> {
  const serial: SerialSimulator[] = [];
  const runs = new Map<string, Promise<ScanSummary>>();
  const rig: SimulatedRig = {
    ports: new Map(),
    lasers: new Map(),
    pmts: new Map(),
    listing: [],
    scanners: new Map(),
    startScanners: (options = {}) => {
      for (const [name, scanner] of rig.scanners) {
        if (runs.has(name)) continue;
        const run = scanner.run(options);
        // A scanner that ends early is rigd's producer gone (device status, event record); its error is for
        // scanSummaries to give, never an unhandled rejection that takes rigd down with it.
        run.catch(() => undefined);
        runs.set(name, run);
      }
    },
    stopScanners: () => {
      for (const s of rig.scanners.values()) s.stop();
    },
    scanSummaries: async () => new Map(await Promise.all([...runs].map(async ([name, run]) => [name, await run] as const))),
    stop: async () => {
      rig.stopScanners();
      await Promise.all(serial.map((s) => s.stop()));
    },
  };
  const modelOf = (device: string) => profile.rig.excitation_sources.find((s) => s.name === device)?.model;
  const wavelengthFor = (laser: string) => profile.channels.find((c) => c.excitation_source === laser)?.excitation_wavelength_in_nm;
  try {
    // The serial simulators' ptys open only after the scanners' processes start: pty descriptors are inherited
    // by a child process (see pty.ts), which would then hold a line open that its simulator closes.
    for (const [index, b] of profile.bindings.entries()) {
      if (!b.simulated || b.driver === "zmq-frames") continue;
      const sim = serialSimulator(b.driver, "device" in b ? { wavelengthNm: wavelengthFor(b.device), model: modelOf(b.device) } : {});
      serial.push(sim);
      rig.ports.set(index, sim.path);
      if ("device" in b && (sim instanceof MaiTaiSimulator || sim instanceof ChameleonSimulator || sim instanceof CoboltSimulator)) {
        rig.lasers.set(b.device, sim as SerialSimulator & LaserLight);
      }
      if (sim instanceof ScientificaPmtSimulator && b.driver === "scientifica-pmt") {
        for (const [channel, detector] of Object.entries(b.photodetectors)) if (detector) rig.pmts.set(detector, sim.channels[channel as "A" | "B"]);
      }
      if (sim instanceof ThorlabsPmt2100Simulator && b.driver === "thorlabs-pmt2100") rig.pmts.set(b.device, sim.pmt);
      rig.listing.push(`${"device" in b ? b.device : Object.values(b.photodetectors).join(" + ")} (${b.driver}): ${sim.path}`);
    }
    for (const pmt of rig.pmts.values()) {
      pmt.gain = PMT_START_GAIN_V;
      pmt.enabled = true;
    }
    for (const b of profile.bindings) {
      if (b.driver !== "zmq-frames" || !b.simulated) continue;
      const source = profile.recording.frame_sources.find((f) => f.name === b.device)!;
      // The channels this source delivers, in its channel order, and the light that reaches them.
      const channels = profile.recording.series
        .filter((s) => s.frames.source === source.name)
        .sort((a, b2) => a.frames.channel - b2.frames.channel)
        .map((s) => profile.channels.find((c) => c.name === s.microscopy_channel)!);
      const laserName = channels[0]?.excitation_source;
      const laser = laserName ? rig.lasers.get(laserName) : undefined;
      const detectors = [...new Map(channels.map((c) => [c.name, rig.pmts.get(c.photodetector)])).values()].map((p) => p ?? { signalScale: 1 });
      // A plane-acquiring microscope (a light sheet) has a camera running at the source's frame rate (each
      // plane is a frame); a line-scanning one a resonant scanner, whose frame rate follows the line count.
      const spaces = new Set(profile.recording.series.filter((s) => s.frames.source === source.name).map((s) => ("volumetric_imaging_space" in s ? s.volumetric_imaging_space : s.planar_imaging_space)));
      const lightSheet = profile.imaging_spaces.some((s) => spaces.has(s.name) && s.illumination_pattern.neurodata_type === "PlaneAcquisition");
      const scanner = await ScannerProcess.open({
        address: b.address,
        geometry: { channels: source.channel_count, planes: source.plane_count, height: source.frame_shape[0], width: source.frame_shape[1], dtype: source.data_type },
        timing: lightSheet ? { kind: "light-sheet", plane_rate_Hz: source.frame_rate_in_Hz } : RESONANT,
        ...(laser ? { laser } : {}),
        detectors,
        // The send queue holds at most ~256 MiB of frames (32 of 2048 × 2048): beyond that frames are lost, as
        // a digitizer's buffer overruns, instead of piling up in the scanner's process.
        queueFrames: Math.max(4, Math.floor((256 * 1024 * 1024) / (source.frame_shape[0] * source.frame_shape[1] * 2))),
      });
      rig.scanners.set(source.name, scanner);
      rig.listing.push(`${source.name} (zmq-frames scanner): pushes to ${b.address}`);
    }
    for (const sim of serial) await sim.start();
  } catch (e) {
    await rig.stop();
    throw e;
  }
  return rig;
}

/** The serial drivers, whose devices a SerialSimulator plays. */
export type SerialDriver = Exclude<Driver, "zmq-frames">;
export const SERIAL_DRIVERS: readonly SerialDriver[] = ["spectra-physics-maitai", "coherent-chameleon", "cobolt", "scientifica-pmt", "thorlabs-pmt2100"];

/**
 * A simulator of the device `driver` speaks to, as a lab leaves it before a session: a tunable laser lasing at
 * `wavelengthNm` (920 nm if not given; an InSight if `model` says so), a Cobolt emitting, PMT controllers as
 * they power up. Not started.
 */
export function serialSimulator(driver: SerialDriver, settings: { wavelengthNm?: number | undefined; model?: string | undefined } = {}): SerialSimulator {
  switch (driver) {
    case "spectra-physics-maitai": {
      const sim = new MaiTaiSimulator(/insight/i.test(settings.model ?? "") ? "InSight" : "MaiTai");
      sim.lasingAt(settings.wavelengthNm ?? 920);
      return sim;
    }
    case "coherent-chameleon": {
      const sim = new ChameleonSimulator();
      sim.lasingAt(settings.wavelengthNm ?? 920);
      return sim;
    }
    case "cobolt": {
      const sim = new CoboltSimulator();
      sim.turnKey(); // autostart on, as it ships: the key turned, it emits
      return sim;
    }
    case "scientifica-pmt":
      return new ScientificaPmtSimulator();
    case "thorlabs-pmt2100":
      return new ThorlabsPmt2100Simulator();
  }
}

