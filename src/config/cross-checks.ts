// Rules that span more than one value of a profile, checked once the profile has the right shape: names
// are unique and every reference names something of the right kind; frames fit the imaging spaces they
// are recorded into and no two series record the same frames; channel wavelengths are within what the
// source and detector can do; every device is driven by one binding at most.
import { closest, formatPath, listOfNames, type ConfigPath, type Problem } from "./errors.js";
import {
  seriesStorage,
  type Channel,
  type DeviceInstance,
  type DeviceModel,
  type ExcitationSource,
  type FrameSource,
  type ImagingSpace,
  type Indicator,
  type Microscope,
  type MicroscopySeries,
  type Rig,
  type RigProfile,
} from "./rig-profile.js";

type PlanarImagingSpace = Extract<ImagingSpace, { neurodata_type: "PlanarImagingSpace" }>;
type VolumetricImagingSpace = Extract<ImagingSpace, { neurodata_type: "VolumetricImagingSpace" }>;

/** Everything in a profile that has a name, by what it is. */
interface Kinds {
  model: DeviceModel;
  microscope: Microscope;
  "excitation source": ExcitationSource;
  "excitation filter": DeviceInstance;
  "dichroic mirror": DeviceInstance;
  "emission filter": DeviceInstance;
  photodetector: DeviceInstance;
  "optical lens": DeviceInstance;
  indicator: Indicator;
  channel: Channel;
  "planar imaging space": PlanarImagingSpace;
  "volumetric imaging space": VolumetricImagingSpace;
  "frame source": FrameSource;
  series: MicroscopySeries;
}
type Kind = keyof Kinds;
type DeviceKind = "microscope" | "excitation source" | "excitation filter" | "dichroic mirror" | "emission filter" | "photodetector" | "optical lens";

/** What a reference to each kind must name, for messages. */
const ENTRY_OF: Record<Kind, string> = {
  model: "an entry of rig.models",
  microscope: "rig.microscope",
  "excitation source": "an entry of rig.excitation_sources",
  "excitation filter": "an entry of rig.excitation_filters",
  "dichroic mirror": "an entry of rig.dichroic_mirrors",
  "emission filter": "an entry of rig.emission_filters",
  photodetector: "an entry of rig.photodetectors",
  "optical lens": "an entry of rig.optical_lenses",
  indicator: "an entry of rig.indicators",
  channel: "an entry of channels",
  "planar imaging space": "a PlanarImagingSpace in imaging_spaces",
  "volumetric imaging space": "a VolumetricImagingSpace in imaging_spaces",
  "frame source": "an entry of recording.frame_sources",
  series: "an entry of recording.series",
};

const FILTER_MODELS = ["OpticalFilterModel", "BandOpticalFilterModel", "EdgeOpticalFilterModel"] as const;

/** The model types each device may link to: ndx-ophys-devices pairs each DeviceInstance type with its DeviceModel type. */
const MODEL_TYPES: Record<DeviceKind, readonly DeviceModel["neurodata_type"][]> = {
  microscope: ["MicroscopeModel"],
  "excitation source": ["ExcitationSourceModel"],
  "excitation filter": FILTER_MODELS,
  "dichroic mirror": ["DichroicMirrorModel"],
  "emission filter": FILTER_MODELS,
  photodetector: ["PhotodetectorModel"],
  "optical lens": ["OpticalLensModel"],
};

interface Definition<K extends Kind = Kind> {
  kind: K;
  /** The entry, e.g. rig.photodetectors[0]; its name is at [...path, "name"]. */
  path: ConfigPath;
  value: Kinds[K];
}

/** One namespace for the whole profile: a name says what it refers to without knowing where it is used. */
class Names {
  private readonly byName = new Map<string, Definition>();

  constructor(private readonly problems: Problem[]) {}

  /** `value` is what `kind` says it is (Kinds[kind]): the typed lookups below rely on it. */
  define(kind: Kind, path: ConfigPath, value: { name: string }): void {
    const other = this.byName.get(value.name);
    if (other) {
      this.problems.push({
        path: [...path, "name"],
        message: `expected a name used once in the profile, found ${JSON.stringify(value.name)}, also the name of ${formatPath(other.path)}`,
      });
    } else {
      this.byName.set(value.name, { kind, path, value } as Definition);
    }
  }

  find(name: string): Definition | undefined {
    return this.byName.get(name);
  }

  /** What `name` (written at `path`) refers to, if it is a `kind`; otherwise a problem. */
  resolve<K extends Kind>(path: ConfigPath, name: string, kind: K): Definition<K> | undefined {
    const found = this.lookup(name, kind);
    if (found) return found;
    const expected = `expected the name of ${ENTRY_OF[kind]}`;
    const other = this.byName.get(name);
    if (other) {
      this.problems.push({ path, message: `${expected}, found ${JSON.stringify(name)}, the name of ${formatPath(other.path)}` });
      return undefined;
    }
    const candidates = [...this.byName.values()].filter((d) => d.kind === kind).map((d) => (d.value as { name: string }).name);
    const meant = closest(name, candidates);
    const hint =
      meant !== undefined
        ? `, did you mean ${JSON.stringify(meant)}?`
        : candidates.length
          ? `, which is not one of ${listOfNames(candidates)}`
          : ", but there are none";
    this.problems.push({ path, message: `${expected}, found ${JSON.stringify(name)}${hint}` });
    return undefined;
  }

  /** Like resolve, without a problem when it does not: for values whose reference is checked elsewhere. */
  lookup<K extends Kind>(name: string, kind: K): Definition<K> | undefined {
    const found = this.byName.get(name);
    return found?.kind === kind ? (found as Definition<K>) : undefined;
  }
}

export function crossCheck(profile: RigProfile): Problem[] {
  const problems: Problem[] = [];
  const names = new Names(problems);
  const devices = deviceEntries(profile.rig);

  profile.rig.models.forEach((model, i) => names.define("model", ["rig", "models", i], model));
  for (const { kind, path, device } of devices) names.define(kind, path, device);
  profile.rig.indicators.forEach((indicator, i) => names.define("indicator", ["rig", "indicators", i], indicator));
  profile.channels.forEach((channel, i) => names.define("channel", ["channels", i], channel));
  profile.imaging_spaces.forEach((space, i) =>
    names.define(space.neurodata_type === "PlanarImagingSpace" ? "planar imaging space" : "volumetric imaging space", ["imaging_spaces", i], space),
  );
  profile.recording.frame_sources.forEach((source, i) => names.define("frame source", ["recording", "frame_sources", i], source));
  profile.recording.series.forEach((series, i) => names.define("series", ["recording", "series", i], series));

  checkModels(devices, names, problems);
  checkChannels(profile.channels, names, problems);
  checkSeries(profile.recording.series, names, problems);
  checkAnalysis(profile.recording.series, names, problems);
  checkBindings(profile, names, problems);
  checkWriter(profile, problems);
  return problems;
}

interface DeviceEntry {
  kind: DeviceKind;
  path: ConfigPath;
  device: DeviceInstance;
}

function deviceEntries(rig: Rig): DeviceEntry[] {
  const listed = (kind: DeviceKind, key: keyof Rig, items: readonly DeviceInstance[]) =>
    items.map((device, i) => ({ kind, path: ["rig", key, i], device }));
  return [
    { kind: "microscope", path: ["rig", "microscope"], device: rig.microscope },
    ...listed("excitation source", "excitation_sources", rig.excitation_sources),
    ...listed("excitation filter", "excitation_filters", rig.excitation_filters),
    ...listed("dichroic mirror", "dichroic_mirrors", rig.dichroic_mirrors),
    ...listed("emission filter", "emission_filters", rig.emission_filters),
    ...listed("photodetector", "photodetectors", rig.photodetectors),
    ...listed("optical lens", "optical_lenses", rig.optical_lenses),
  ];
}

function checkModels(devices: DeviceEntry[], names: Names, problems: Problem[]): void {
  for (const { kind, path, device } of devices) {
    if (device.model === undefined) continue;
    const model = names.resolve([...path, "model"], device.model, "model");
    const allowed = MODEL_TYPES[kind];
    if (model && !allowed.includes(model.value.neurodata_type)) {
      const types = allowed.length === 1 ? allowed.join("") : `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}`;
      problems.push({
        path: [...path, "model"],
        message: `expected the name of ${withArticle(types)} in rig.models, found ${JSON.stringify(device.model)}, ${withArticle(model.value.neurodata_type)}`,
      });
    }
  }
}

function withArticle(word: string): string {
  return `${/^[AEIOU]/.test(word) ? "an" : "a"} ${word}`;
}

type ChannelLink = "excitation_source" | "excitation_filter" | "dichroic_mirror" | "emission_filter" | "optical_lens";

function checkChannels(channels: readonly Channel[], names: Names, problems: Problem[]): void {
  channels.forEach((channel, i) => {
    const at = (key: keyof Channel): ConfigPath => ["channels", i, key];
    const optional = (key: ChannelLink, kind: DeviceKind) => {
      const name = channel[key];
      return name === undefined ? undefined : names.resolve(at(key), name, kind);
    };
    names.resolve(at("indicator"), channel.indicator, "indicator");
    const source = optional("excitation_source", "excitation source");
    optional("excitation_filter", "excitation filter");
    optional("dichroic_mirror", "dichroic mirror");
    optional("emission_filter", "emission filter");
    optional("optical_lens", "optical lens");
    const detector = names.resolve(at("photodetector"), channel.photodetector, "photodetector");

    for (const [key, device, modelType, can] of [
      ["excitation_wavelength_in_nm", source, "ExcitationSourceModel", "emit"],
      ["emission_wavelength_in_nm", detector, "PhotodetectorModel", "detect"],
    ] as const) {
      const range = device && wavelengthRangeOf(device.value, modelType, names);
      const value = channel[key];
      if (range && (value < range[0] || value > range[1])) {
        problems.push({
          path: at(key),
          message: `expected a wavelength ${device.value.name} can ${can}, within [${range.join(", ")}] nm of its model ${JSON.stringify(device.value.model)}, found ${value}`,
        });
      }
    }
  });
}

/** The range of the device's model, if it has a model of the right type (checkModels reports one of the wrong type). */
function wavelengthRangeOf(
  device: DeviceInstance,
  modelType: "ExcitationSourceModel" | "PhotodetectorModel",
  names: Names,
): readonly [number, number] | undefined {
  const model = device.model === undefined ? undefined : names.lookup(device.model, "model")?.value;
  return model?.neurodata_type === modelType ? model.wavelength_range_in_nm : undefined;
}

function checkSeries(allSeries: readonly MicroscopySeries[], names: Names, problems: Problem[]): void {
  // Who records which frames, keyed by source and channel (volumes take all planes) or source, channel and plane.
  const channelTaker = new Map<string, ConfigPath>();
  const volumeTaker = new Map<string, ConfigPath>();
  const planeTaker = new Map<string, ConfigPath>();
  const containers = new Map<string, { channel: string; path: ConfigPath }>();

  allSeries.forEach((series, i) => {
    const at = (...keys: string[]): ConfigPath => ["recording", "series", i, ...keys];
    names.resolve(at("microscopy_channel"), series.microscopy_channel, "channel");
    const source = names.resolve(at("frames", "source"), series.frames.source, "frame source")?.value;
    const space =
      series.neurodata_type === "PlanarMicroscopySeries"
        ? names.resolve(at("planar_imaging_space"), series.planar_imaging_space, "planar imaging space")
        : names.resolve(at("volumetric_imaging_space"), series.volumetric_imaging_space, "volumetric imaging space");

    if (series.neurodata_type === "PlanarMicroscopySeries" && series.multi_plane_container !== undefined) {
      const container = series.multi_plane_container;
      const first = containers.get(container);
      const other = names.find(container);
      if (first === undefined && other) {
        problems.push({
          path: at("multi_plane_container"),
          message: `expected a container name not used elsewhere in the profile, found ${JSON.stringify(container)}, the name of ${formatPath(other.path)}`,
        });
      }
      if (first === undefined) containers.set(container, { channel: series.microscopy_channel, path: at() });
      else if (first.channel !== series.microscopy_channel) {
        problems.push({
          path: at("microscopy_channel"),
          message: `expected ${JSON.stringify(first.channel)}, the channel of ${formatPath(first.path)} in the same multi_plane_container, found ${JSON.stringify(series.microscopy_channel)}`,
        });
      }
    }

    if (source === undefined) return;
    const plane = series.neurodata_type === "PlanarMicroscopySeries" ? series.frames.plane : undefined;
    const indices = [
      { key: "channel", index: series.frames.channel, count: source.channel_count, countName: "channel_count" },
      ...(plane === undefined ? [] : [{ key: "plane", index: plane, count: source.plane_count, countName: "plane_count" }]),
    ];
    let indicesFit = true;
    for (const { key, index, count, countName } of indices) {
      if (index >= count) {
        indicesFit = false;
        problems.push({
          path: at("frames", key),
          message: `expected a ${key} index below ${count}, the ${countName} of frame source ${JSON.stringify(source.name)}, found ${index}`,
        });
      }
    }
    if (indicesFit) {
      const channelKey = JSON.stringify([source.name, series.frames.channel]);
      const planeKey = JSON.stringify([source.name, series.frames.channel, plane]);
      const taker = plane === undefined ? channelTaker.get(channelKey) : volumeTaker.get(channelKey) ?? planeTaker.get(planeKey);
      if (taker) {
        const frames = `channel ${series.frames.channel}${plane === undefined ? "" : ` plane ${plane}`} of ${JSON.stringify(source.name)}`;
        problems.push({ path: at("frames"), message: `expected frames no other series records, found ${frames}, which ${formatPath(taker)} records` });
      } else {
        if (!channelTaker.has(channelKey)) channelTaker.set(channelKey, at());
        if (plane === undefined) volumeTaker.set(channelKey, at());
        else planeTaker.set(planeKey, at());
      }
    }

    if (space === undefined) return;
    const [height, width] = source.frame_shape;
    const [expected, found, key] =
      space.kind === "planar imaging space"
        ? [[width, height], space.value.dimensions_in_pixels, "dimensions_in_pixels"]
        : [[width, height, source.plane_count], space.value.dimensions_in_voxels, "dimensions_in_voxels"];
    if (expected.some((n, axis) => n !== found[axis])) {
      const what = key === "dimensions_in_pixels" ? "[width, height] of the frames" : "[width, height, plane_count] of the frames";
      problems.push({
        path: [...space.path, key],
        message: `expected [${expected.join(", ")}], the ${what} of ${JSON.stringify(source.name)} that ${formatPath(at())} records here, found [${found.join(", ")}]`,
      });
    }
  });
}

/** Memory the summary images' sums take per voxel (src/analysis/summary.ts: a dozen per-pixel sums), and the most a volume's may take. */
const SUMMARY_BYTES_PER_VOXEL = 100;
const SUMMARY_MEMORY_BYTES = 2 ** 30;

/**
 * A series' `analysis`: it asks for something, one reference and one source of ROIs at most, and masks and the
 * reference image fit the frames (width × height, indexed [x][y]; a volume's masks width × height × plane_count,
 * indexed [x][y][z]).
 */
function checkAnalysis(allSeries: readonly MicroscopySeries[], names: Names, problems: Problem[]): void {
  allSeries.forEach((series, i) => {
    if (!series.analysis) return;
    const a = series.analysis;
    const at = (...keys: (string | number)[]): ConfigPath => ["recording", "series", i, "analysis", ...keys];
    if (!a.motion && !a.summary_images && !a.rois && !a.rois_from_nwb) {
      problems.push({ path: at(), message: "expected at least one of motion, summary_images: true, rois or rois_from_nwb, found an analysis that asks for nothing" });
    }
    if (a.rois && a.rois_from_nwb) problems.push({ path: at("rois_from_nwb"), message: "expected rois or rois_from_nwb, not both" });
    const source = names.lookup(series.frames.source, "frame source")?.value;
    if (!source) return; // said by checkSeries
    const [height, width] = source.frame_shape;
    const depths = source.plane_count;
    /** Checks a dense mask (nested lists, [x][y] or [x][y][z]) against the frames' size, naming the first list of another length. */
    const checkDense = (path: ConfigPath, dense: readonly unknown[], sizes: readonly number[], what: string, of: string) => {
      const units = sizes.length === 2 ? ["columns", "values"] : ["columns", "rows", "values"];
      const wrong = (list: readonly unknown[], level: number, where: number[]): string | undefined => {
        if (list.length !== sizes[level]) return level === 0 ? `${list.length} columns` : `${level === 1 ? `column ${where[0]}` : `[${where.join("][")}]`} of ${list.length} ${units[level]}`;
        if (level + 1 === sizes.length) return undefined;
        for (const [k, inner] of list.entries()) {
          const found = wrong(inner as unknown[], level + 1, [...where, k]);
          if (found) return found;
        }
        return undefined;
      };
      const found = wrong(dense, 0, []);
      const expected = sizes.map((n, level) => `${n} ${units[level]}`).join(" of ");
      if (found) problems.push({ path, message: `expected ${what} indexed [${["x", "y", "z"].slice(0, sizes.length).join("][")}]: ${expected}, ${of}, found ${found}` });
    };
    if (series.neurodata_type === "PlanarMicroscopySeries") {
      const planar = series.analysis!;
      const frame = `the ${width} × ${height} frames of ${JSON.stringify(source.name)}`;
      if (planar.motion?.reference_s !== undefined && planar.motion.reference_image) problems.push({ path: at("motion", "reference_image"), message: "expected reference_s or reference_image, not both" });
      if (planar.motion?.reference_image) checkDense(at("motion", "reference_image"), planar.motion.reference_image, [width, height], "a reference image", frame);
      planar.rois?.forEach((roi, r) => {
        const outside = roi.pixel_mask?.findIndex(([x, y]) => x >= width || y >= height) ?? -1;
        if (outside >= 0) {
          const [x, y] = roi.pixel_mask![outside]!;
          problems.push({ path: at("rois", r, "pixel_mask", outside), message: `expected a pixel inside ${frame} (x < ${width}, y < ${height}), found [${x}, ${y}]` });
        }
        if (roi.image_mask) checkDense(at("rois", r, "image_mask"), roi.image_mask, [width, height], "an image mask", frame);
      });
    } else {
      const volume = `the ${width} × ${height} × ${depths} volumes of ${JSON.stringify(source.name)}`;
      const bytes = width * height * depths * SUMMARY_BYTES_PER_VOXEL;
      if (series.analysis!.summary_images && bytes > SUMMARY_MEMORY_BYTES) {
        problems.push({
          path: at("summary_images"),
          message: `expected volumes of at most ${Math.floor(SUMMARY_MEMORY_BYTES / SUMMARY_BYTES_PER_VOXEL)} voxels for summary images (their sums take ~${SUMMARY_BYTES_PER_VOXEL} bytes a voxel in memory, at most ${SUMMARY_MEMORY_BYTES / 2 ** 30} GiB), found ${volume}: ${(bytes / 2 ** 30).toFixed(1)} GiB; bin the camera, or leave summary images out`,
        });
      }
      series.analysis!.rois?.forEach((roi, r) => {
        const outside = roi.voxel_mask?.findIndex(([x, y, z]) => x >= width || y >= height || z >= depths) ?? -1;
        if (outside >= 0) {
          const [x, y, z] = roi.voxel_mask![outside]!;
          problems.push({ path: at("rois", r, "voxel_mask", outside), message: `expected a voxel inside ${volume} (x < ${width}, y < ${height}, z < ${depths}), found [${x}, ${y}, ${z}]` });
        }
        if (roi.volume_mask) checkDense(at("rois", r, "volume_mask"), roi.volume_mask, [width, height, depths], "a volume mask", volume);
      });
    }
  });
}

/** The kind of device each driver drives (the Scientifica controller names its photodetectors per channel). */
const DRIVES = {
  "spectra-physics-maitai": "excitation source",
  "coherent-chameleon": "excitation source",
  cobolt: "excitation source",
  "thorlabs-pmt2100": "photodetector",
  "zmq-frames": "frame source",
} as const;

function checkBindings(profile: RigProfile, names: Names, problems: Problem[]): void {
  const drivenBy = new Map<string, ConfigPath>();
  const usedBy = new Map<string, ConfigPath>();

  profile.bindings.forEach((binding, i) => {
    const at = (...keys: string[]): ConfigPath => ["bindings", i, ...keys];
    const driven =
      binding.driver === "scientifica-pmt"
        ? (["A", "B"] as const).flatMap((channel) => {
            const name = binding.photodetectors[channel];
            return name === undefined ? [] : [{ path: at("photodetectors", channel), name, kind: "photodetector" as const }];
          })
        : [{ path: at("device"), name: binding.device, kind: DRIVES[binding.driver] }];
    for (const { path, name, kind } of driven) {
      if (!names.resolve(path, name, kind)) continue;
      const other = drivenBy.get(name);
      if (other) problems.push({ path, message: `expected a device no other binding drives, found ${JSON.stringify(name)}, which ${formatPath(other)} drives` });
      else drivenBy.set(name, path);
    }

    // Two real devices cannot share a serial port, nor two frame sources one ZeroMQ address.
    let endpoint: { key: string; value: string } | undefined;
    if (binding.driver === "zmq-frames") endpoint = { key: "address", value: binding.address };
    else if (!binding.simulated && binding.port === undefined) {
      problems.push({ path: at("port"), message: "expected the serial port of the device, such as /dev/ttyUSB0, or simulated: true, found nothing (the key is missing)" });
    } else if (!binding.simulated && binding.port !== undefined) endpoint = { key: "port", value: binding.port };
    if (endpoint) {
      const other = usedBy.get(endpoint.value);
      if (other) {
        problems.push({
          path: at(endpoint.key),
          message: `expected a ${endpoint.key} no other binding uses, found ${JSON.stringify(endpoint.value)}, which ${formatPath(other)} uses`,
        });
      } else usedBy.set(endpoint.value, at());
    }
  });

  profile.recording.frame_sources.forEach((source, i) => {
    if (!drivenBy.has(source.name)) {
      problems.push({
        path: ["recording", "frame_sources", i, "name"],
        message: `expected a frame source that a zmq-frames binding delivers, found ${JSON.stringify(source.name)}, which no binding has as its device`,
      });
    }
  });
}

function checkWriter(profile: RigProfile, problems: Problem[]): void {
  const { writer } = profile;
  const gzipLevelWithoutGzip = (level: number) => `expected gzip_level only with compression: gzip, found ${level} with compression: none`;
  if (writer.gzip_level !== undefined && writer.compression === "none") {
    problems.push({ path: ["writer", "gzip_level"], message: gzipLevelWithoutGzip(writer.gzip_level) });
  }
  profile.recording.series.forEach((series, i) => {
    const level = series.writer?.gzip_level;
    if (level !== undefined && seriesStorage(writer, series).compression === "none") {
      problems.push({ path: ["recording", "series", i, "writer", "gzip_level"], message: gzipLevelWithoutGzip(level) });
    }
  });
}
