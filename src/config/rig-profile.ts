// A rig profile: what a lab writes once about its rig and reuses for every session. The hardware,
// channels and imaging spaces mirror ndx-ophys-devices 0.2.0 and ndx-microscopy 0.3.0 field for field,
// so a value lands in the NWB attribute of the same name. The recording plan, the device bindings and
// the writer options are rigd's own. These schemas are the single source of truth: the TypeScript
// types, the validation and the JSON Schema editors use all come from them.
import { z } from "zod";
import {
  flag,
  modelName,
  name,
  nonNegative,
  pixelCount,
  pixelSize,
  text,
  vector,
  wavelength,
  wavelengthRange,
  wholeWithin,
  within,
} from "./fields.js";

const list = <T extends z.ZodType>(item: T) => z.array(item, { error: "expected a list" });

// ---------------------------------------------------------------- device models (DeviceModel and subtypes)

const modelFields = {
  name: modelName,
  description: text,
  manufacturer: text.optional(),
  model_number: text.optional(),
};

const percent = within(0, 100, "a percentage");

export const DeviceModel = z.discriminatedUnion("neurodata_type", [
  z.strictObject({ neurodata_type: z.literal("MicroscopeModel"), ...modelFields }),
  z.strictObject({
    neurodata_type: z.literal("ExcitationSourceModel"),
    ...modelFields,
    source_type: text.describe("e.g. LED, Gas Laser, Solid-State Laser (Ti:Sapphire)"),
    excitation_mode: z.enum(["one-photon", "two-photon", "three-photon", "other"]),
    wavelength_range_in_nm: wavelengthRange.optional(),
  }),
  z.strictObject({
    neurodata_type: z.literal("PhotodetectorModel"),
    ...modelFields,
    detector_type: text.describe("e.g. PMT, GaAsP PMT, sCMOS, CCD, Photodiode"),
    wavelength_range_in_nm: wavelengthRange.optional(),
    gain: z.number({ error: "expected a number" }).optional(),
    gain_unit: text.optional(),
  }),
  z.strictObject({
    neurodata_type: z.literal("DichroicMirrorModel"),
    ...modelFields,
    cut_on_wavelength_in_nm: wavelength.optional(),
    cut_off_wavelength_in_nm: wavelength.optional(),
    reflection_band_in_nm: wavelengthRange.optional(),
    transmission_band_in_nm: wavelengthRange.optional(),
    angle_of_incidence_in_degrees: within(0, 90, "an angle in degrees").optional(),
  }),
  z.strictObject({
    neurodata_type: z.literal("OpticalFilterModel"),
    ...modelFields,
    filter_type: z.enum(["Bandpass", "Bandstop", "Longpass", "Shortpass"]),
  }),
  z.strictObject({
    neurodata_type: z.literal("BandOpticalFilterModel"),
    ...modelFields,
    filter_type: z.enum(["Bandpass", "Bandstop"]),
    center_wavelength_in_nm: wavelength,
    bandwidth_in_nm: within(0.1, 2000, "a bandwidth in nm"),
  }),
  z.strictObject({
    neurodata_type: z.literal("EdgeOpticalFilterModel"),
    ...modelFields,
    filter_type: z.enum(["Longpass", "Shortpass"]),
    cut_wavelength_in_nm: wavelength,
    slope_in_percent_cut_wavelength: percent.optional(),
    slope_starting_transmission_in_percent: percent.optional(),
    slope_ending_transmission_in_percent: percent.optional(),
  }),
  z.strictObject({
    neurodata_type: z.literal("OpticalLensModel"),
    ...modelFields,
    numerical_aperture: within(0.01, 1.7, "a numerical aperture"),
    magnification: within(0.1, 1000, "a magnification").optional(),
  }),
]);
export type DeviceModel = z.output<typeof DeviceModel>;

// ---------------------------------------------------------------- device instances (DeviceInstance and subtypes)

const instanceFields = {
  name,
  description: text,
  serial_number: text.optional(),
  model: modelName.optional().describe("Name of an entry of rig.models"),
};

/** Photodetectors, filters, dichroic mirrors and lenses: their NWB types add nothing to DeviceInstance. */
export const DeviceInstance = z.strictObject(instanceFields);
export type DeviceInstance = z.output<typeof DeviceInstance>;

export const Microscope = z.strictObject({
  ...instanceFields,
  technique: text.optional().describe("e.g. resonant-galvo scan mirrors, light sheet, temporal focusing"),
});
export type Microscope = z.output<typeof Microscope>;

const excitationSourceFields = {
  ...instanceFields,
  power_in_W: within(0, 100, "a power in W").optional(),
  intensity_in_W_per_m2: nonNegative("an intensity in W/m²").optional(),
  exposure_time_in_s: within(0, 86400, "a time in s").optional(),
};

export const ExcitationSource = z.discriminatedUnion("neurodata_type", [
  z.strictObject({ neurodata_type: z.literal("ExcitationSource"), ...excitationSourceFields }),
  z.strictObject({
    neurodata_type: z.literal("PulsedExcitationSource"),
    ...excitationSourceFields,
    pulse_rate_in_Hz: within(1, 1e10, "a pulse rate in Hz"),
    peak_power_in_W: nonNegative("a power in W").optional(),
    peak_pulse_energy_in_J: within(0, 1, "an energy in J").optional(),
  }),
]);
export type ExcitationSource = z.output<typeof ExcitationSource>;

export const Indicator = z.strictObject({
  name,
  label: text.describe("Standard notation, e.g. GCaMP6s"),
  description: text,
  manufacturer: text.optional(),
  injection_brain_region: text.optional(),
  injection_coordinates_in_mm: z
    .tuple([within(-100, 100, "a coordinate in mm"), within(-100, 100, "a coordinate in mm"), within(-100, 100, "a coordinate in mm")], {
      error: "expected [AP, ML, DV] in mm relative to bregma",
    })
    .optional(),
});
export type Indicator = z.output<typeof Indicator>;

export const Rig = z.strictObject({
  description: text.describe("Description of the microscopy rig (MicroscopyRig.description)"),
  microscope: Microscope,
  models: list(DeviceModel).default([]),
  excitation_sources: list(ExcitationSource).default([]),
  excitation_filters: list(DeviceInstance).default([]),
  dichroic_mirrors: list(DeviceInstance).default([]),
  emission_filters: list(DeviceInstance).default([]),
  photodetectors: list(DeviceInstance).default([]),
  optical_lenses: list(DeviceInstance).default([]),
  indicators: list(Indicator).default([]),
});
export type Rig = z.output<typeof Rig>;

// ---------------------------------------------------------------- channels (MicroscopyChannel + its light path)

/**
 * A channel and the devices its light passes through. Each channel becomes one MicroscopyChannel and one
 * MicroscopyRig, whose links (excitation_source … optical_lens) are these devices, named here.
 */
export const Channel = z.strictObject({
  name,
  description: text,
  indicator: name.describe("Name of an entry of rig.indicators"),
  excitation_wavelength_in_nm: wavelength,
  emission_wavelength_in_nm: wavelength,
  excitation_source: name.optional().describe("Name of an entry of rig.excitation_sources"),
  excitation_filter: name.optional().describe("Name of an entry of rig.excitation_filters"),
  dichroic_mirror: name.optional().describe("Name of an entry of rig.dichroic_mirrors"),
  emission_filter: name.optional().describe("Name of an entry of rig.emission_filters"),
  photodetector: name.describe("Name of the entry of rig.photodetectors that records this channel"),
  optical_lens: name.optional().describe("Name of an entry of rig.optical_lenses"),
});
export type Channel = z.output<typeof Channel>;

// ---------------------------------------------------------------- imaging spaces

export const IlluminationPattern = z.discriminatedUnion("neurodata_type", [
  z.strictObject({
    neurodata_type: z.literal("LineScan"),
    description: text,
    scan_direction: z.enum(["horizontal", "vertical"]).optional(),
    line_rate_in_Hz: within(0.001, 1e6, "a rate in Hz").optional(),
    dwell_time_in_s: within(1e-9, 1, "a time in s").optional(),
  }),
  z.strictObject({
    neurodata_type: z.literal("PlaneAcquisition"),
    description: text,
    point_spread_function_in_um: text.optional().describe("mean [um] ± s.d. [um], e.g. \"4.0 ± 0.5\""),
    illumination_angle_in_degrees: within(-180, 180, "an angle in degrees").optional(),
    plane_rate_in_Hz: within(0.001, 1e5, "a rate in Hz").optional(),
  }),
  z.strictObject({
    neurodata_type: z.literal("RandomAccessScan"),
    description: text,
    max_scan_points: wholeWithin(1, 1e9, "a number of points").optional(),
    dwell_time_in_s: within(1e-9, 1, "a time in s").optional(),
    scanning_pattern: text.optional(),
  }),
]);
export type IlluminationPattern = z.output<typeof IlluminationPattern>;

const ORIENTATION = "expected three letters, one each of R/L, A/P and S/I, such as \"RAS\"";
const coordinate = within(-1e5, 1e5, "a coordinate in µm");

const imagingSpaceFields = {
  name,
  description: text,
  illumination_pattern: IlluminationPattern,
  location: text.optional().describe("Brain area and layer, e.g. primary visual cortex, layer 2/3"),
  reference_frame: text.optional().describe("What origin_coordinates are relative to, e.g. bregma"),
  origin_coordinates: vector(3, coordinate, "in µm")
    .optional()
    .describe("Stereotactic position of the first pixel or voxel, in µm"),
  orientation: z
    .string({ error: ORIENTATION })
    .regex(/^(?=.*[RL])(?=.*[AP])(?=.*[SI])[RLAPSI]{3}$/, { error: ORIENTATION })
    .optional()
    .describe("Direction of x, y and z, e.g. RAS: x right, y anterior, z superior"),
};

export const ImagingSpace = z.discriminatedUnion("neurodata_type", [
  z.strictObject({
    neurodata_type: z.literal("PlanarImagingSpace"),
    ...imagingSpaceFields,
    pixel_size_in_um: vector(2, pixelSize, "in µm"),
    dimensions_in_pixels: vector(2, pixelCount, "in pixels").describe("[x, y] = [width, height] of a frame"),
  }),
  z.strictObject({
    neurodata_type: z.literal("VolumetricImagingSpace"),
    ...imagingSpaceFields,
    voxel_size_in_um: vector(3, pixelSize, "in µm"),
    dimensions_in_voxels: vector(3, pixelCount, "in voxels").describe("[x, y, z] = [width, height, depth planes] of a volume"),
  }),
]);
export type ImagingSpace = z.output<typeof ImagingSpace>;

// ---------------------------------------------------------------- recording plan

export const FRAME_DATA_TYPES = ["uint8", "uint16", "int16", "float32"] as const;

/** A stream of frames, e.g. from a scanner or a camera, delivered by a `zmq-frames` binding. */
export const FrameSource = z.strictObject({
  name,
  description: text.optional(),
  frame_shape: z
    .tuple([pixelCount, pixelCount], { error: "expected [height, width] in pixels" })
    .describe("[height, width] of a frame in pixels, as in the frame header"),
  channel_count: wholeWithin(1, 64, "a number of channels").default(1).describe("Channel indices in frame headers run from 0 to channel_count - 1"),
  plane_count: wholeWithin(1, 65536, "a number of planes")
    .default(1)
    .describe("Planes per cycle (per volume); plane indices in frame headers run from 0 to plane_count - 1"),
  flyback_planes: wholeWithin(0, 65536, "a number of planes")
    .default(0)
    .describe("Frames the producer sends after the imaged planes of each volume while the focus returns (fast-z flyback, piezo or ETL), as planes plane_count … plane_count + flyback_planes - 1: expected, counted, never stored"),
  data_type: z.enum(FRAME_DATA_TYPES),
  frame_rate_in_Hz: within(0.001, 1e5, "a rate in Hz").describe("Frames per second of one channel; each plane is a frame, flyback frames included"),
  clock: z
    .enum(["hardware", "arrival"])
    .default("hardware")
    .describe("Where frame times come from: the hardware_time_s of each frame (hardware), or when it reaches rigd (arrival), for sources without a clock of their own; the series' comments say which"),
});
export type FrameSource = z.output<typeof FrameSource>;

const frameIndex = wholeWithin(0, 65535, "an index");
const chunkBytes = wholeWithin(64 * 1024, 64 * 1024 * 1024, "a size in bytes");
const compression = z.enum(["none", "gzip"]);
const gzipLevel = wholeWithin(1, 9, "a gzip level");

/** Storage of one series, overriding `writer`. */
export const SeriesWriterOptions = z.strictObject({
  chunk_bytes: chunkBytes.optional(),
  compression: compression.optional(),
  gzip_level: gzipLevel.optional(),
});
export type SeriesWriterOptions = z.output<typeof SeriesWriterOptions>;

/** A pixel index of a mask: x along the width, y along the rows (ndx-microscopy's [x, y, weight] rows). */
const maskIndex = wholeWithin(0, 65535, "a pixel index");
/** A mask row's weight: a row is a pixel of the ROI (one outside it is left out, not weighted 0 or less). */
const rowWeight = z.number({ error: "expected a weight (a number > 0)" }).positive({ error: "expected a weight > 0: a row is a pixel of the ROI (leave out the pixels outside it)" });
/** A dense mask's weight: 0 outside the ROI. */
const denseWeight = z.number({ error: "expected a weight (a number, > 0 inside the ROI, 0 outside)" }).min(0, { error: "expected a weight ≥ 0 (> 0 inside the ROI, 0 outside)" });
/** Whether a dense mask (nested lists of weights) has a weight > 0: an ROI of no pixel is no ROI. */
const anyInside = (mask: unknown): boolean => (Array.isArray(mask) ? mask.some(anyInside) : (mask as number) > 0);

/** One ROI as ndx-microscopy's PlanarSegmentation.add_roi takes it: a pixel_mask, an image_mask, or both. */
export const AnalysisRoi = z
  .strictObject({
    pixel_mask: list(z.tuple([maskIndex, maskIndex, rowWeight], { error: "expected [x, y, weight]" }))
      .min(1, { error: "expected at least one [x, y, weight] row" })
      .optional()
      .describe("[x, y, weight] rows, x along the frame's width, y along its rows"),
    image_mask: list(list(denseWeight))
      .optional()
      .describe("Weights indexed [x][y] (x along the width), the frame's width × height; > 0 inside the ROI"),
  })
  .refine((r) => r.pixel_mask !== undefined || r.image_mask !== undefined, { error: "expected a pixel_mask or an image_mask" })
  .refine((r) => r.image_mask === undefined || anyInside(r.image_mask), { error: "expected an image_mask with a weight > 0 somewhere: this ROI has no pixel", path: ["image_mask"] });
export type AnalysisRoi = z.output<typeof AnalysisRoi>;

/** A volumetric series' ROI as ndx-microscopy's VolumetricSegmentation.add_roi takes it: a voxel_mask, a volume_mask, or both. */
export const VolumeRoi = z
  .strictObject({
    voxel_mask: list(z.tuple([maskIndex, maskIndex, maskIndex, rowWeight], { error: "expected [x, y, z, weight]" }))
      .min(1, { error: "expected at least one [x, y, z, weight] row" })
      .optional()
      .describe("[x, y, z, weight] rows, x along the planes' width, y along their rows, z the depth plane (0 … plane_count - 1)"),
    volume_mask: list(list(list(denseWeight)))
      .optional()
      .describe("Weights indexed [x][y][z] (x along the width), the planes' width × height × plane_count; > 0 inside the ROI"),
  })
  .refine((r) => r.voxel_mask !== undefined || r.volume_mask !== undefined, { error: "expected a voxel_mask or a volume_mask" })
  .refine((r) => r.volume_mask === undefined || anyInside(r.volume_mask), { error: "expected a volume_mask with a weight > 0 somewhere: this ROI has no voxel", path: ["volume_mask"] });
export type VolumeRoi = z.output<typeof VolumeRoi>;

const referenceSeconds = within(0.03, 600, "a duration in s");

const roisFromNwb = (type: "PlanarSegmentation" | "VolumetricSegmentation") =>
  z
    .strictObject({ file: text.describe("An NWB file: absolute, or relative to the directory rigd runs in"), segmentation: name.describe(`The name of a ${type} in it (in any processing module's SegmentationContainer)`) })
    .optional()
    .describe(`Or the ROIs of a ${type} of an earlier session's file`);

const baseline = z
  .strictObject({
    window_s: within(1, 3600, "a duration in s").default(30).describe("The running window the baseline F0 is taken over"),
    percentile: within(0, 100, "a percentile").default(8).describe("F0 is this percentile of F over the window"),
  })
  .default({ window_s: 30, percentile: 8 })
  .describe("ΔF/F = (F − F0) / F0 with F0 a running low percentile of each ROI's F");

/** Online analysis of a planar series while it records (src/analysis): off unless asked for. */
export const SeriesAnalysis = z
  .strictObject({
    motion: z
      .strictObject({
        reference_s: referenceSeconds
          .optional()
          .describe("The reference is the mean of the first reference_s seconds of frames, each aligned on the first (default 1 s)"),
        reference_image: list(list(z.number({ error: "expected a number" })))
          .optional()
          .describe("Or a reference image, indexed [x][y] like image masks: the frame's width × height"),
      })
      .optional()
      .describe("Rigid x/y motion of each frame against a reference (phase correlation, sub-pixel), stored in µm as TimeSeries <series>MotionX and <series>MotionY in /processing/ophys and published on `traces`; ROI masks and summary images follow it"),
    summary_images: flag
      .default(false)
      .describe(
        "Mean, maximum and local correlation images at stop ([x, y], motion-corrected when motion is on): SummaryImages of the ROIs' segmentation <series>Segmentation, or without ROIs GrayscaleImages of a core Images container <series>SummaryImages in /processing/ophys (an ROI table without rows fails nwbinspector), e.g. to draw the next session's ROIs on",
      ),
    rois: list(AnalysisRoi)
      .min(1, { error: "expected at least one ROI" })
      .optional()
      .describe("ROIs whose weighted-mask fluorescence and ΔF/F are traced per frame"),
    rois_from_nwb: roisFromNwb("PlanarSegmentation"),
    baseline,
  })
  .describe("Online analysis of this series while it records: motion, summary images, ROI traces (published on the PUB socket as `traces`)");
export type SeriesAnalysis = z.output<typeof SeriesAnalysis>;

/** Online analysis of a volumetric series while it records, each depth plane analysed as a planar series would be. */
export const VolumeAnalysis = z
  .strictObject({
    motion: z
      .strictObject({
        reference_s: referenceSeconds
          .optional()
          .describe("Each depth plane's reference is the mean of its planes in the first reference_s seconds, each aligned on the first (default 1 s)"),
      })
      .optional()
      .describe("Rigid x/y motion of each plane against its depth's own reference (phase correlation, sub-pixel), stored in µm as TimeSeries <series>MotionX and <series>MotionY in /processing/ophys, of one column per depth, (volumes, depths), and published on `traces`; voxel masks and summary images follow each plane's motion"),
    summary_images: flag
      .default(false)
      .describe(
        "Mean, maximum and local correlation images of each depth plane at stop: 3-D SummaryImages [x, y, z] of the ROIs' VolumetricSegmentation <series>Segmentation, or without ROIs GrayscaleImages <image>_z<depth> ([x, y]) of a core Images container <series>SummaryImages in /processing/ophys (an Image holds no 3-D grayscale). Their sums take ~100 bytes a voxel in memory: volumes of up to ~10 M voxels (1 GiB)",
      ),
    rois: list(VolumeRoi)
      .min(1, { error: "expected at least one ROI" })
      .optional()
      .describe("ROIs whose weighted-mask fluorescence (over all their voxels) and ΔF/F are traced per volume"),
    rois_from_nwb: roisFromNwb("VolumetricSegmentation"),
    baseline,
  })
  .describe("Online analysis of this series while it records, plane by plane: motion per depth, summary images per depth, ROI traces per volume (published on the PUB socket as `traces`)");
export type VolumeAnalysis = z.output<typeof VolumeAnalysis>;

const seriesFields = {
  name: name.describe("NWB object name, e.g. PlanarMicroscopySeriesGreen"),
  description: text,
  microscopy_channel: name.describe("Name of an entry of channels"),
  writer: SeriesWriterOptions.optional(),
};

export const MicroscopySeries = z.discriminatedUnion("neurodata_type", [
  z.strictObject({
    neurodata_type: z.literal("PlanarMicroscopySeries"),
    ...seriesFields,
    planar_imaging_space: name.describe("Name of a PlanarImagingSpace in imaging_spaces"),
    frames: z
      .strictObject({ source: name, channel: frameIndex, plane: frameIndex.default(0) }, { error: "expected a mapping with source, channel and plane" })
      .describe("Which frames of which frame source this series records"),
    multi_plane_container: name
      .optional()
      .describe("Series with the same name here go into one MultiPlaneMicroscopyContainer of that name"),
    analysis: SeriesAnalysis.optional(),
  }),
  z.strictObject({
    neurodata_type: z.literal("VolumetricMicroscopySeries"),
    ...seriesFields,
    volumetric_imaging_space: name.describe("Name of a VolumetricImagingSpace in imaging_spaces"),
    frames: z
      .strictObject({ source: name, channel: frameIndex }, { error: "expected a mapping with source and channel" })
      .describe("Each volume is the planes 0 … plane_count - 1 of this channel, depth last: (frames, height, width, depths)"),
    analysis: VolumeAnalysis.optional(),
  }),
]);
export type MicroscopySeries = z.output<typeof MicroscopySeries>;

export const Recording = z.strictObject({
  frame_sources: list(FrameSource).min(1, { error: "expected at least one frame source" }),
  series: list(MicroscopySeries).min(1, { error: "expected at least one series" }),
});
export type Recording = z.output<typeof Recording>;

// ---------------------------------------------------------------- device bindings

const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600] as const;

/** Serial settings with the defaults of the instrument at the other end. */
const serialFields = (baudRate: (typeof BAUD_RATES)[number]) => ({
  port: text.optional().describe("e.g. /dev/ttyUSB0 or COM3; may be left out when simulated"),
  baud_rate: z.literal(BAUD_RATES).default(baudRate),
  data_bits: z.literal([5, 6, 7, 8]).default(8),
  parity: z.enum(["none", "even", "odd", "mark", "space"]).default("none"),
  stop_bits: z.literal([1, 1.5, 2]).default(1),
  poll_interval_ms: wholeWithin(10, 60000, "a time in ms").default(1000),
  simulated: flag.default(false).describe("Run the matching simulator instead of the hardware"),
});

const excitationSourceBinding = <D extends string>(driver: D, baudRate: (typeof BAUD_RATES)[number]) =>
  z.strictObject({
    driver: z.literal(driver),
    device: name.describe("Name of an entry of rig.excitation_sources"),
    ...serialFields(baudRate),
  });

const ZMQ_ADDRESS = "expected a ZeroMQ address such as tcp://127.0.0.1:5600 or ipc:///tmp/frames";

export const DeviceBinding = z.discriminatedUnion("driver", [
  excitationSourceBinding("spectra-physics-maitai", 9600),
  excitationSourceBinding("coherent-chameleon", 19200),
  excitationSourceBinding("cobolt", 115200),
  z.strictObject({
    driver: z.literal("scientifica-pmt"),
    photodetectors: z
      .strictObject({ A: name.optional(), B: name.optional() }, { error: "expected a mapping of controller channel A and/or B to a photodetector" })
      .refine((channels) => channels.A !== undefined || channels.B !== undefined, { error: "expected controller channel A and/or B" })
      .describe("Controller channel → name of an entry of rig.photodetectors"),
    ...serialFields(9600),
  }),
  z.strictObject({
    driver: z.literal("thorlabs-pmt2100"),
    device: name.describe("Name of an entry of rig.photodetectors"),
    ...serialFields(115200),
  }),
  z.strictObject({
    driver: z.literal("zmq-frames"),
    device: name.describe("Name of an entry of recording.frame_sources"),
    address: z
      .string({ error: ZMQ_ADDRESS })
      .regex(/^(tcp:\/\/[^\s:/]+:([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])|ipc:\/\/\S+)$/, { error: ZMQ_ADDRESS }),
    simulated: flag.default(false).describe("Run the matching simulator instead of the hardware"),
  }),
]);
export type DeviceBinding = z.output<typeof DeviceBinding>;
export type Driver = DeviceBinding["driver"];

// ---------------------------------------------------------------- writer options

export const WriterOptions = z.strictObject({
  checkpoint_interval_ms: wholeWithin(100, 60000, "a time in ms").default(1000).describe("How much a crash may lose at most"),
  chunk_bytes: chunkBytes.default(4 * 1024 * 1024),
  compression: compression.default("none"),
  gzip_level: gzipLevel.optional().describe("With compression: gzip; default 4"),
  stop_below_free_MB: wholeWithin(0, 1_000_000, "a size in MB")
    .default(100)
    .describe("Stop the session cleanly, while the file can still be closed, once the output's disk has less free space than this (MB); 0: never"),
  warn_below_free_minutes: wholeWithin(0, 10_000, "a time in minutes")
    .default(10)
    .describe("Warn (log and event record) once the output's free space lasts less than this at the current write rate; 0: never"),
});
export type WriterOptions = z.output<typeof WriterOptions>;

// ---------------------------------------------------------------- the profile

export const RigProfile = z
  .strictObject(
    {
      rig: Rig,
      channels: list(Channel).min(1, { error: "expected at least one channel" }),
      imaging_spaces: list(ImagingSpace).min(1, { error: "expected at least one imaging space" }),
      recording: Recording,
      bindings: list(DeviceBinding).default([]),
      writer: WriterOptions.prefault({}),
    },
    { error: "expected a rig profile: a mapping with rig, channels, imaging_spaces, recording, bindings and writer" },
  )
  .meta({
    title: "rigd rig profile",
    description: "A microscope rig described once and reused for every session (see rigd profile check)",
  });
export type RigProfile = z.output<typeof RigProfile>;

/** Effective storage of a series: its own writer options over the profile's. */
export type SeriesStorage =
  | { chunk_bytes: number; compression: "none" }
  | { chunk_bytes: number; compression: "gzip"; gzip_level: number };

const DEFAULT_GZIP_LEVEL = 4;

export function seriesStorage(writer: Pick<WriterOptions, "chunk_bytes" | "compression" | "gzip_level">, series: MicroscopySeries): SeriesStorage {
  const own = series.writer ?? {};
  const chunk_bytes = own.chunk_bytes ?? writer.chunk_bytes;
  if ((own.compression ?? writer.compression) === "none") return { chunk_bytes, compression: "none" };
  return { chunk_bytes, compression: "gzip", gzip_level: own.gzip_level ?? writer.gzip_level ?? DEFAULT_GZIP_LEVEL };
}
