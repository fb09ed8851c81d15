// From a rig profile (and what the devices said they are) to the NWB objects of a session: the device
// models and instances, one MicroscopyRig per channel (its light path), the channels, imaging spaces,
// containers and series. A pure function: the engine hands the result to the writer.
import type { DeviceIdentity } from "../drivers/device.js";
import type { RigProfile } from "../config/index.js";
import { seriesStorage } from "../config/index.js";
import type * as N from "../nwb/index.js";
import type { NwbWriter } from "../nwb/index.js";

export interface NwbPlan {
  /** Models first: instances link to them. */
  devices: N.Device[];
  rigs: N.MicroscopyRig[];
  channels: N.MicroscopyChannel[];
  imagingSpaces: N.ImagingSpace[];
  containers: N.MicroscopyContainer[];
  planarSeries: N.PlanarMicroscopySeries[];
  volumetricSeries: N.VolumetricMicroscopySeries[];
  /** Differences between the profile and what a device reported, for the log and the event record. */
  warnings: string[];
}

/**
 * What a bound device said it is at the start of a session. `own` is false when the identity is of the
 * controller that drives it (PMTs on a Scientifica controller): then it describes, but gives no serial number.
 */
export interface ReportedIdentity {
  identity: DeviceIdentity;
  own: boolean;
}

/** The MicroscopyRig that holds a channel's light path. */
export const rigNameOf = (channel: string) => `MicroscopyRig${channel}`;

const FILTER_OF_MODEL: Record<string, N.DeviceInstance["neurodata_type"]> = {
  BandOpticalFilterModel: "BandOpticalFilter",
  EdgeOpticalFilterModel: "EdgeOpticalFilter",
};

export function planNwb(profile: RigProfile, identities: ReadonlyMap<string, ReportedIdentity> = new Map()): NwbPlan {
  const { rig } = profile;
  const warnings: string[] = [];
  const models = new Map<string, { neurodata_type: string; manufacturer?: string | undefined }>(rig.models.map((m) => [m.name, m]));

  /**
   * A device that identified itself: its serial number wins over the profile's, and a serial number or
   * manufacturer that disagrees with the profile is worth a warning. What was reported (model,
   * firmware) goes into the description either way, since NWB devices have no field for firmware.
   */
  const reported = (d: { name: string; description: string; serial_number?: string | undefined; model?: string | undefined }) => {
    const r = identities.get(d.name);
    if (!r) return { description: d.description, ...(d.serial_number === undefined ? {} : { serial_number: d.serial_number }) };
    const { manufacturer, model, serial_number, firmware } = r.identity;
    const said = `${manufacturer} ${model}, serial number ${serial_number}${firmware ? `, firmware ${firmware}` : ""}`;
    const description = `${d.description.replace(/\.?$/, ".")} ${r.own ? "Identified itself" : "Its controller identified itself"} at the start of the session as ${said}.`;
    if (!r.own) return { description, ...(d.serial_number === undefined ? {} : { serial_number: d.serial_number }) };
    if (d.serial_number && d.serial_number !== serial_number) warnings.push(`${d.name}: the profile says serial number ${d.serial_number}, the device reports ${serial_number}`);
    const maker = d.model === undefined ? undefined : models.get(d.model)?.manufacturer;
    if (maker && !sameMaker(maker, manufacturer)) warnings.push(`${d.name}: the profile's model ${d.model} is made by ${maker}, the device reports ${manufacturer}`);
    return { description, serial_number };
  };
  const instance = (type: N.DeviceInstance["neurodata_type"], d: { name: string; description: string; serial_number?: string | undefined; model?: string | undefined }) =>
    ({
      neurodata_type: type,
      name: d.name,
      ...reported(d),
      ...(d.model === undefined ? {} : { model: d.model }),
    }) as N.DeviceInstance;
  const filter = (d: Parameters<typeof instance>[1]) => instance((d.model && FILTER_OF_MODEL[models.get(d.model)?.neurodata_type ?? ""]) || "OpticalFilter", d);

  const devices: N.Device[] = [
    ...rig.models.map((m) => ({ ...m }) as N.DeviceModel),
    { ...instance("Microscope", rig.microscope), ...(rig.microscope.technique ? { technique: rig.microscope.technique } : {}) } as N.DeviceInstance,
    ...rig.excitation_sources.map((s) => ({ ...s, ...instance(s.neurodata_type, s) }) as N.DeviceInstance),
    ...rig.excitation_filters.map(filter),
    ...rig.emission_filters.map(filter),
    ...rig.dichroic_mirrors.map((d) => instance("DichroicMirror", d)),
    ...rig.photodetectors.map((d) => instance("Photodetector", d)),
    ...rig.optical_lenses.map((d) => instance("OpticalLens", d)),
  ];

  const rigs: N.MicroscopyRig[] = profile.channels.map((c) => ({
    name: rigNameOf(c.name),
    description: `${rig.description}: the light path of channel ${c.name}`,
    microscope: rig.microscope.name,
    ...pick(c, ["excitation_source", "excitation_filter", "dichroic_mirror", "photodetector", "emission_filter", "optical_lens"]),
  }));

  const channels: N.MicroscopyChannel[] = profile.channels.map((c) => {
    const indicator = rig.indicators.find((i) => i.name === c.indicator)!;
    return {
      name: c.name,
      description: c.description,
      excitation_wavelength_in_nm: c.excitation_wavelength_in_nm,
      emission_wavelength_in_nm: c.emission_wavelength_in_nm,
      indicator: { ...indicator },
    };
  });

  const sources = new Map(profile.recording.frame_sources.map((s) => [s.name, s]));
  const containers = [...new Set(profile.recording.series.flatMap((s) => (s.neurodata_type === "PlanarMicroscopySeries" && s.multi_plane_container ? [s.multi_plane_container] : [])))];
  const planarSeries: N.PlanarMicroscopySeries[] = [];
  const volumetricSeries: N.VolumetricMicroscopySeries[] = [];
  for (const s of profile.recording.series) {
    const source = sources.get(s.frames.source)!;
    const st = seriesStorage(profile.writer, s);
    const common = {
      name: s.name,
      description: source.flyback_planes
        ? `${s.description.replace(/\.?$/, ".")} The ${source.flyback_planes} flyback frame${source.flyback_planes === 1 ? "" : "s"} ${source.name} sends after the ${source.plane_count} imaged planes of each volume ${source.flyback_planes === 1 ? "is" : "are"} not stored.`
        : s.description,
      data_type: source.data_type,
      microscopy_rig: rigNameOf(s.microscopy_channel),
      microscopy_channel: s.microscopy_channel,
      // Frame times are written as they are: the hardware's, put on the session clock, or arrival times.
      clock: { timestamps: true as const },
      comments:
        source.clock === "arrival"
          ? `Timestamps are the times frames of ${source.name} reached rigd: the source has no clock of its own, so they include its transfer delay and jitter.`
          : `Timestamps are ${source.name}'s hardware times, when each frame began, related to the session clock by the fastest delivery (less one frame interval) among its frames.`,
      storage: { chunkBytes: st.chunk_bytes, ...(st.compression === "gzip" ? { gzipLevel: st.gzip_level } : {}) },
    };
    if (s.neurodata_type === "PlanarMicroscopySeries") {
      planarSeries.push({ ...common, imaging_space: s.planar_imaging_space, frame_shape: source.frame_shape, ...(s.multi_plane_container ? { container: s.multi_plane_container } : {}) });
    } else {
      volumetricSeries.push({ ...common, imaging_space: s.volumetric_imaging_space, frame_shape: [...source.frame_shape, source.plane_count] });
    }
  }

  return {
    devices,
    rigs,
    channels,
    imagingSpaces: profile.imaging_spaces.map((s) => ({ ...s }) as N.ImagingSpace),
    containers: containers.map((name) => ({ neurodata_type: "MultiPlaneMicroscopyContainer", name })),
    planarSeries,
    volumetricSeries,
    warnings,
  };
}

/** Adds every object of a plan to a file, in the order their links need. */
export async function writePlan(writer: NwbWriter, plan: NwbPlan): Promise<void> {
  for (const d of plan.devices) await writer.addDevice(d);
  for (const r of plan.rigs) await writer.addRig(r);
  for (const c of plan.channels) await writer.addChannel(c);
  for (const s of plan.imagingSpaces) await writer.addImagingSpace(s);
  for (const c of plan.containers) await writer.addContainer(c);
  for (const s of plan.planarSeries) await writer.createPlanarSeries(s);
  for (const s of plan.volumetricSeries) await writer.createVolumetricSeries(s);
}

function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/** "Spectra-Physics" and "Spectra Physics", "Cobolt" and "Cobolt (HÜBNER Photonics)" are one maker. */
function sameMaker(a: string, b: string): boolean {
  const [x, y] = [a, b].map((s) => s.toLowerCase().replace(/[^a-z0-9]/g, ""));
  return x!.includes(y!) || y!.includes(x!);
}
