// The profile's bindings as connected drivers: one per bound device, on its real port or on the port
// of its simulator. The engine sees only the device-kind interfaces.
import type { DeviceBinding, RigProfile } from "../config/index.js";
import { CoboltLaser } from "../drivers/cobolt.js";
import { CoherentChameleon } from "../drivers/coherent-chameleon.js";
import type { ExcitationSource } from "../drivers/excitation-source.js";
import type { FrameSource } from "../drivers/frame-source.js";
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
