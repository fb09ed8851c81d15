// The NWB objects rigd writes, as zod schemas: each gives the TypeScript type and the validation of
// what callers pass in. Field names are those of NWB core 2.7.0, ndx-ophys-devices 0.2.0 and
// ndx-microscopy 0.3.0, so a value here lands in the attribute or dataset of the same name.
import { z } from "zod";
import { AGE_EXPECTED, SEXES, SPECIES_EXPECTED, SPECIES_FORM, isAge } from "./subject-rules.js";

/** An NWB object name: one HDF5 link name, without the slashes and colons nwbinspector rejects. */
export const NwbName = z
  .string()
  .min(1)
  .regex(/^[^/:]+$/, "a name must not contain '/' or ':'")
  .refine((s) => s !== "." && s !== "..", "'.' and '..' are not names");

const text = z.string().min(1);
const finite = z.number().finite();
const positive = finite.positive();
const nonNegative = finite.nonnegative();
const triple = z.tuple([finite, finite, finite]);
const wavelengthRange = z
  .tuple([positive, positive])
  .refine(([lo, hi]) => lo < hi, "expected [min, max] with min < max");

/** ISO 8601 date-time with an explicit timezone, e.g. 2026-11-23T09:30:00+01:00 or …Z. */
export const IsoDateTime = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
    "expected an ISO 8601 date-time with a timezone, e.g. 2026-11-23T09:30:00+01:00",
  )
  .refine((s) => !Number.isNaN(Date.parse(s)), "not a real date");

// ---------------------------------------------------------------- session metadata (NWBFile, Subject)

export const Subject = z.strictObject({
  subject_id: text,
  species: text.regex(SPECIES_FORM, `expected ${SPECIES_EXPECTED}`),
  sex: z.enum(SEXES),
  age: text.refine(isAge, `expected ${AGE_EXPECTED}`),
  age__reference: z.enum(["birth", "gestational"]).default("birth"),
  description: text,
  genotype: text.optional(),
  strain: text.optional(),
  date_of_birth: IsoDateTime.optional(),
  weight: text.optional(),
});
export type Subject = z.input<typeof Subject>;

export const NwbFileMetadata = z.strictObject({
  /** Defaults to a fresh UUID4. */
  identifier: text.optional(),
  session_description: text,
  session_start_time: IsoDateTime,
  /** Defaults to session_start_time. */
  timestamps_reference_time: IsoDateTime.optional(),
  experimenter: z.array(text.regex(/^[^,]+, [^,]+$/, "expected 'Last, First'")).optional(),
  lab: text.optional(),
  institution: text.optional(),
  experiment_description: text.optional(),
  session_id: text.optional(),
  keywords: z.array(text).optional(),
  subject: Subject.optional(),
});
export type NwbFileMetadata = z.input<typeof NwbFileMetadata>;

// ---------------------------------------------------------------- devices (ndx-ophys-devices, ndx-microscopy)

// Descriptions are required throughout: nwbinspector flags a missing one on every object that has the field.
const modelBase = { name: NwbName, description: text, manufacturer: text.optional(), model_number: text.optional() };
const instanceBase = {
  name: NwbName,
  description: text,
  serial_number: text.optional(),
  /** Name of the device model (added before) this instance is one of. */
  model: NwbName.optional(),
};
const kind = <T extends string>(t: T) => z.literal(t);

export const DeviceModel = z.discriminatedUnion("neurodata_type", [
  z.strictObject({ neurodata_type: kind("MicroscopeModel"), ...modelBase }),
  z.strictObject({
    neurodata_type: kind("ExcitationSourceModel"),
    ...modelBase,
    source_type: text,
    excitation_mode: text,
    wavelength_range_in_nm: wavelengthRange.optional(),
  }),
  z.strictObject({
    neurodata_type: kind("PhotodetectorModel"),
    ...modelBase,
    detector_type: text,
    wavelength_range_in_nm: wavelengthRange.optional(),
    gain: finite.optional(),
    gain_unit: text.optional(),
  }),
  z.strictObject({
    neurodata_type: kind("DichroicMirrorModel"),
    ...modelBase,
    cut_on_wavelength_in_nm: positive.optional(),
    cut_off_wavelength_in_nm: positive.optional(),
    reflection_band_in_nm: wavelengthRange.optional(),
    transmission_band_in_nm: wavelengthRange.optional(),
    angle_of_incidence_in_degrees: finite.optional(),
  }),
  z.strictObject({ neurodata_type: kind("OpticalFilterModel"), ...modelBase, filter_type: text }),
  z.strictObject({
    neurodata_type: kind("BandOpticalFilterModel"),
    ...modelBase,
    filter_type: text,
    center_wavelength_in_nm: positive,
    bandwidth_in_nm: positive,
  }),
  z.strictObject({
    neurodata_type: kind("EdgeOpticalFilterModel"),
    ...modelBase,
    filter_type: text,
    cut_wavelength_in_nm: positive,
    slope_in_percent_cut_wavelength: finite.optional(),
    slope_starting_transmission_in_percent: finite.optional(),
    slope_ending_transmission_in_percent: finite.optional(),
  }),
  z.strictObject({
    neurodata_type: kind("OpticalLensModel"),
    ...modelBase,
    numerical_aperture: positive,
    magnification: positive.optional(),
  }),
]);
export type DeviceModel = z.input<typeof DeviceModel>;

const excitationSourceFields = {
  power_in_W: nonNegative.optional(),
  intensity_in_W_per_m2: nonNegative.optional(),
  exposure_time_in_s: nonNegative.optional(),
};

export const DeviceInstance = z.discriminatedUnion("neurodata_type", [
  z.strictObject({ neurodata_type: kind("Microscope"), ...instanceBase, technique: text.optional() }),
  z.strictObject({ neurodata_type: kind("ExcitationSource"), ...instanceBase, ...excitationSourceFields }),
  z.strictObject({
    neurodata_type: kind("PulsedExcitationSource"),
    ...instanceBase,
    ...excitationSourceFields,
    pulse_rate_in_Hz: positive,
    peak_power_in_W: nonNegative.optional(),
    peak_pulse_energy_in_J: nonNegative.optional(),
  }),
  z.strictObject({ neurodata_type: kind("Photodetector"), ...instanceBase }),
  z.strictObject({ neurodata_type: kind("DichroicMirror"), ...instanceBase }),
  z.strictObject({ neurodata_type: kind("OpticalFilter"), ...instanceBase }),
  z.strictObject({ neurodata_type: kind("BandOpticalFilter"), ...instanceBase }),
  z.strictObject({ neurodata_type: kind("EdgeOpticalFilter"), ...instanceBase }),
  z.strictObject({ neurodata_type: kind("OpticalLens"), ...instanceBase }),
]);
export type DeviceInstance = z.input<typeof DeviceInstance>;

export const Device = z.union([DeviceModel, DeviceInstance]);
export type Device = z.input<typeof Device>;
export type DeviceType = Device["neurodata_type"];

/** Which model type each instance type may link to. */
export const MODEL_OF_INSTANCE: Record<DeviceInstance["neurodata_type"], readonly DeviceModel["neurodata_type"][]> = {
  Microscope: ["MicroscopeModel"],
  ExcitationSource: ["ExcitationSourceModel"],
  PulsedExcitationSource: ["ExcitationSourceModel"],
  Photodetector: ["PhotodetectorModel"],
  DichroicMirror: ["DichroicMirrorModel"],
  OpticalFilter: ["OpticalFilterModel", "BandOpticalFilterModel", "EdgeOpticalFilterModel"],
  BandOpticalFilter: ["BandOpticalFilterModel"],
  EdgeOpticalFilter: ["EdgeOpticalFilterModel"],
  OpticalLens: ["OpticalLensModel"],
};

// ---------------------------------------------------------------- rig, channel, imaging space

const filterTypes = ["OpticalFilter", "BandOpticalFilter", "EdgeOpticalFilter"] as const;

/** MicroscopyRig links (by device name) and the device types each link may point to. */
export const RIG_LINKS = {
  microscope: ["Microscope"],
  excitation_source: ["ExcitationSource", "PulsedExcitationSource"],
  excitation_filter: filterTypes,
  dichroic_mirror: ["DichroicMirror"],
  photodetector: ["Photodetector"],
  emission_filter: filterTypes,
  optical_lens: ["OpticalLens"],
} as const satisfies Record<string, readonly DeviceType[]>;

export const MicroscopyRig = z.strictObject({
  name: NwbName,
  description: text,
  microscope: NwbName,
  excitation_source: NwbName.optional(),
  excitation_filter: NwbName.optional(),
  dichroic_mirror: NwbName.optional(),
  photodetector: NwbName.optional(),
  emission_filter: NwbName.optional(),
  optical_lens: NwbName.optional(),
});
export type MicroscopyRig = z.input<typeof MicroscopyRig>;

export const Indicator = z.strictObject({
  name: NwbName.default("Indicator"),
  label: text,
  description: text,
  manufacturer: text.optional(),
  injection_brain_region: text.optional(),
  injection_coordinates_in_mm: triple.optional(),
});

export const MicroscopyChannel = z.strictObject({
  name: NwbName,
  description: text,
  excitation_wavelength_in_nm: positive,
  emission_wavelength_in_nm: positive,
  indicator: Indicator,
});
export type MicroscopyChannel = z.input<typeof MicroscopyChannel>;

export const IlluminationPattern = z.discriminatedUnion("neurodata_type", [
  z.strictObject({
    neurodata_type: kind("LineScan"),
    name: NwbName.default("LineScan"),
    description: text,
    scan_direction: z.enum(["horizontal", "vertical"]).optional(),
    line_rate_in_Hz: positive.optional(),
    dwell_time_in_s: positive.optional(),
  }),
  z.strictObject({
    neurodata_type: kind("PlaneAcquisition"),
    name: NwbName.default("PlaneAcquisition"),
    description: text,
    point_spread_function_in_um: text.optional(),
    illumination_angle_in_degrees: finite.optional(),
    plane_rate_in_Hz: positive.optional(),
  }),
  z.strictObject({
    neurodata_type: kind("RandomAccessScan"),
    name: NwbName.default("RandomAccessScan"),
    description: text,
    max_scan_points: z.number().int().positive().optional(),
    dwell_time_in_s: positive.optional(),
    scanning_pattern: text.optional(),
  }),
]);
export type IlluminationPattern = z.input<typeof IlluminationPattern>;

const Orientation = z
  .string()
  .regex(/^[RLAPSI]{3}$/, "expected three letters from R/L, A/P, S/I such as 'RAS'")
  .refine((o) => ["RL", "AP", "SI"].every((axis) => [...o].filter((c) => axis.includes(c)).length === 1), "each of the axes R/L, A/P and S/I must appear exactly once");

const imagingSpaceBase = {
  name: NwbName,
  description: text,
  illumination_pattern: IlluminationPattern,
  location: text.optional(),
  reference_frame: text.optional(),
  orientation: Orientation.optional(),
  origin_coordinates: triple.optional(),
  origin_coordinates__unit: text.default("micrometers"),
};
const count = z.number().int().positive();

export const ImagingSpace = z.discriminatedUnion("neurodata_type", [
  z.strictObject({
    neurodata_type: kind("PlanarImagingSpace"),
    ...imagingSpaceBase,
    pixel_size_in_um: z.tuple([positive, positive]).optional(),
    /** [x, y] = [width, height] of a frame. */
    dimensions_in_pixels: z.tuple([count, count]).optional(),
  }),
  z.strictObject({
    neurodata_type: kind("VolumetricImagingSpace"),
    ...imagingSpaceBase,
    voxel_size_in_um: z.tuple([positive, positive, positive]).optional(),
    /** [x, y, z] = [width, height, depths] of a volume. */
    dimensions_in_voxels: z.tuple([count, count, count]).optional(),
  }),
]);
export type ImagingSpace = z.input<typeof ImagingSpace>;

// ---------------------------------------------------------------- series

export const FrameType = z.enum(["uint8", "uint16", "int16", "float32"]);
export type FrameType = z.infer<typeof FrameType>;

/** How the samples of a series are timed: a timestamp per sample, or a declared regular clock. */
export const Clock = z.union([
  z.strictObject({ timestamps: z.literal(true) }),
  z.strictObject({ starting_time: nonNegative, rate: positive }),
]);
export type Clock = z.infer<typeof Clock>;

export const Storage = z
  .strictObject({
    /** Target bytes per HDF5 chunk: samples under 64 KiB are grouped up to it, larger frames split into bands of rows over it. */
    chunkBytes: z.number().int().min(64 * 1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Explicit chunk shape, overriding chunkBytes. */
    chunkShape: z.array(count).optional(),
    /** gzip level 1–9; absent means uncompressed (gzip runs ~50 MB/s on one core). */
    gzipLevel: z.number().int().min(1).max(9).optional(),
  })
  .default({ chunkBytes: 4 * 1024 * 1024 });
export type Storage = z.input<typeof Storage>;

const timeSeriesFields = {
  name: NwbName,
  description: text,
  comments: text.optional(),
  clock: Clock,
  storage: Storage,
};

const microscopySeriesFields = {
  ...timeSeriesFields,
  unit: text.default("n.a."),
  conversion: finite.default(1),
  offset: finite.default(0),
  resolution: finite.default(-1),
  data_type: FrameType,
  /** Names of the rig and channel added with addRig / addChannel. */
  microscopy_rig: NwbName,
  microscopy_channel: NwbName,
  imaging_space: NwbName,
  /** Name of a MultiPlane/MultiChannel container to put the series in; default /acquisition. */
  container: NwbName.optional(),
};

export const PlanarMicroscopySeries = z.strictObject({
  ...microscopySeriesFields,
  /** [height, width]. */
  frame_shape: z.tuple([count, count]),
});
export type PlanarMicroscopySeries = z.input<typeof PlanarMicroscopySeries>;

export const VolumetricMicroscopySeries = z.strictObject({
  ...microscopySeriesFields,
  /** [height, width, depths]: depth is the last axis. */
  frame_shape: z.tuple([count, count, count]),
});
export type VolumetricMicroscopySeries = z.input<typeof VolumetricMicroscopySeries>;

export const MicroscopyContainer = z.strictObject({
  neurodata_type: z.enum(["MultiPlaneMicroscopyContainer", "MultiChannelMicroscopyContainer"]),
  name: NwbName.optional(),
});
export type MicroscopyContainer = z.input<typeof MicroscopyContainer>;

/** A core TimeSeries of scalar samples: laser power, wavelength, PMT gain over time. */
export const TelemetrySeries = z.strictObject({
  ...timeSeriesFields,
  unit: text,
  /** How a value holds between samples; device settings are 'step'. */
  continuity: z.enum(["continuous", "instantaneous", "step"]).optional(),
  /** Values per sample: absent, one (data (samples,)); n, a row of n (data (samples, n)), e.g. one per depth plane. */
  columns: count.optional(),
  /** Where it goes: absent, /acquisition (what was recorded); a processing module's name, /processing/<module> (what was derived, e.g. "ophys"). */
  module: NwbName.optional(),
});
export type TelemetrySeries = z.input<typeof TelemetrySeries>;

// ---------------------------------------------------------------- segmentation and responses

/** One ROI: a pixel (or voxel) list, an image (or volume) mask, or both. */
export const PlanarRoi = z
  .strictObject({
    id: z.number().int().nonnegative().optional(),
    /** [x, y, weight] rows. */
    pixel_mask: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative(), finite])).min(1).optional(),
    /** Indexed [x][y], the imaging space's dimensions_in_pixels. */
    image_mask: z.array(z.array(finite)).optional(),
  })
  .refine((r) => r.pixel_mask || r.image_mask, "an ROI needs a pixel_mask or an image_mask");
export type PlanarRoi = z.input<typeof PlanarRoi>;

export const VolumetricRoi = z
  .strictObject({
    id: z.number().int().nonnegative().optional(),
    /** [x, y, z, weight] rows. */
    voxel_mask: z
      .array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative(), z.number().int().nonnegative(), finite]))
      .min(1)
      .optional(),
    /** Indexed [x][y][z], the imaging space's dimensions_in_voxels. */
    volume_mask: z.array(z.array(z.array(finite))).optional(),
  })
  .refine((r) => r.voxel_mask || r.volume_mask, "an ROI needs a voxel_mask or a volume_mask");
export type VolumetricRoi = z.input<typeof VolumetricRoi>;

export const SummaryImage = z.strictObject({
  name: NwbName,
  description: text,
  /** ndx-microscopy's dims, (height, width) or (height, width, depth); data row-major. */
  shape: z.union([z.tuple([count, count]), z.tuple([count, count, count])]),
  data: z.instanceof(Float32Array),
});
export type SummaryImage = z.input<typeof SummaryImage>;

/**
 * Images of a series without ROIs (a core Images container of GrayscaleImages, in a processing module): where
 * summary images go when there is no segmentation to hold them — ndx-microscopy keeps SummaryImages only inside
 * a Segmentation, and one without rows fails nwbinspector (check_empty_table).
 */
export const Images = z.strictObject({
  name: NwbName,
  description: text,
  module: NwbName.default("ophys"),
  images: z
    .array(
      z.strictObject({
        name: NwbName,
        description: text,
        /** Row-major; the core spec names its dims (x, y): rigd writes them as its frames are, (height, width). */
        shape: z.tuple([count, count]),
        data: z.instanceof(Float32Array),
      }),
    )
    .min(1),
});
export type Images = z.input<typeof Images>;

const segmentationFields = {
  name: NwbName,
  description: text,
  imaging_space: NwbName,
  /** Processing module (created on first use) and SegmentationContainer inside it. */
  module: NwbName.default("ophys"),
  container: NwbName.default("SegmentationContainer"),
  summary_images: z.array(SummaryImage).default([]),
};

export const PlanarSegmentation = z.strictObject({ ...segmentationFields, rois: z.array(PlanarRoi).min(1) });
export type PlanarSegmentation = z.input<typeof PlanarSegmentation>;

export const VolumetricSegmentation = z.strictObject({ ...segmentationFields, rois: z.array(VolumetricRoi).min(1) });
export type VolumetricSegmentation = z.input<typeof VolumetricSegmentation>;

export const MicroscopyResponseSeries = z.strictObject({
  name: NwbName,
  description: text,
  comments: text.optional(),
  unit: text.default("n.a."),
  /** Segmentation whose ROIs the columns are, and which of its rows (default: all, in order). */
  segmentation: NwbName,
  roi_indices: z.array(z.number().int().nonnegative()).min(1).optional(),
  rois_description: text.default("ROIs of the segmentation"),
  /** Source series; with `clock: "source"` the response shares its timestamps (a soft link). */
  microscopy_series: NwbName.optional(),
  clock: z.union([z.literal("source"), Clock]),
  module: NwbName.default("ophys"),
  container: NwbName.default("MicroscopyResponseSeriesContainer"),
  storage: Storage,
});
export type MicroscopyResponseSeries = z.input<typeof MicroscopyResponseSeries>;

// ---------------------------------------------------------------- events

/**
 * One entry of the session's event record: a fault, a dropped-frame gap, a reconnect, a user's mark.
 * Stored as a core AnnotationSeries ("kind [source] message" per timestamp): it is text appendable
 * one entry at a time, and unlike a table it draws no nwbinspector remark when it holds a single entry.
 */
/** Where the event record lives: /acquisition/rig_events. */
export const EVENTS_NAME = "rig_events";

export const RigEvent = z.strictObject({
  /** Seconds from timestamps_reference_time. */
  time: nonNegative,
  /** What happened: 'fault', 'dropped_frames', 'mark', 'reconnect', … */
  kind: z.string().regex(/^[a-z][a-z0-9_]*$/, "expected a lower_snake_case word"),
  /** The device or series it concerns, or 'user'. */
  source: text.regex(/^[^\]\n]+$/, "no ']' or line breaks"),
  message: text,
});
export type RigEvent = z.input<typeof RigEvent>;
