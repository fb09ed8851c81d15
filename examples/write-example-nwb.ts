// Writes one NWB file that uses every type rigd's writer knows, with the values and shapes of a real
// two-photon rig: a tunable Ti:Sapphire laser, two GaAsP PMTs, GCaMP6f (green) and tdTomato (red),
// resonant-galvo scanning at 256 lines (61.8 frames/s), an ETL multi-plane stack and a volume stack.
// The frames come from a small synthetic sample (neurons with calcium transients, shot noise), and
// the ROI traces are the real mean of each ROI's pixels in the green frames.
//
//   npm run example -- OUT.nwb
import { fileURLToPath } from "node:url";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { NwbWriter, isoNow, type PixelMask, type VoxelMask, pixelToImage, voxelToVolume } from "../src/nwb/index.js";
import { SyntheticSample, random } from "../simulators/sample.js";

export interface ExampleScale {
  /** Seconds recorded. */
  seconds: number;
  /** Width = height of the two-channel planar frames (frames/s: 61.8). */
  planarSize: number;
  /** Width = height of each of the 4 ETL planes (each plane 15.45 frames/s). */
  planeSize: number;
  /** Width = height of the volumes (10 volumes/s) and their depth planes. */
  volumeSize: number;
  depths: number;
  overwrite: boolean;
}

export const DEFAULT_SCALE: ExampleScale = { seconds: 10, planarSize: 256, planeSize: 128, volumeSize: 64, depths: 16, overwrite: false };

const FRAME_RATE = 7910 * 2 / 256; // bidirectional resonant scanning, 256 lines per frame
const PLANES = 4;
const VOLUME_RATE = 10;

export async function writeExampleSession(path: string, scale: ExampleScale = DEFAULT_SCALE): Promise<{ frames: number; droppedFrames: number }> {
  const sample = new SyntheticSample(12, scale.seconds);
  const rand = random(11);
  const nwb = await NwbWriter.create(
    path,
    {
      session_description: "Two-photon imaging of layer 2/3 of mouse VISp (synthetic sample), recorded by rigd.",
      session_start_time: isoNow(new Date(Date.now() - 60_000)),
      experimenter: ["Doe, Jane"],
      lab: "Systems Neuroscience Lab",
      institution: "Example Institute",
      experiment_description: "Spontaneous activity under a two-photon microscope; the rig's laser and PMT telemetry recorded alongside.",
      session_id: "example-001",
      keywords: ["two-photon", "calcium imaging", "GCaMP6f", "VISp"],
      subject: { subject_id: "mouse-017", species: "Mus musculus", sex: "F", age: "P92D", description: "Emx1-Cre;Ai148 mouse with a cranial window over VISp.", strain: "C57BL/6J" },
    },
    { overwrite: scale.overwrite },
  );

  // ---- the rig: models, then the instances that are one of them
  await nwb.addDevice({ neurodata_type: "MicroscopeModel", name: "Bergamo II", description: "Resonant-galvo two-photon microscope.", manufacturer: "Thorlabs", model_number: "B248" });
  await nwb.addDevice({ neurodata_type: "Microscope", name: "Microscope", description: "Rig 2 two-photon microscope.", serial_number: "B248-0131", technique: "scan mirrors", model: "Bergamo II" });
  await nwb.addDevice({ neurodata_type: "ExcitationSourceModel", name: "InSight X3", description: "Tunable femtosecond Ti:Sapphire-class laser.", manufacturer: "Spectra-Physics", model_number: "InSight X3", source_type: "Ti:Sapphire laser", excitation_mode: "two-photon", wavelength_range_in_nm: [680, 1300] });
  await nwb.addDevice({ neurodata_type: "PulsedExcitationSource", name: "Laser", description: "Imaging laser, tuned to 920 nm.", serial_number: "IX3-2217", model: "InSight X3", power_in_W: 0.045, pulse_rate_in_Hz: 80e6, peak_power_in_W: 5600 });
  await nwb.addDevice({ neurodata_type: "ExcitationSourceModel", name: "CPS635R", description: "Collimated 635 nm diode laser.", manufacturer: "Thorlabs", model_number: "CPS635R", source_type: "diode laser", excitation_mode: "one-photon", wavelength_range_in_nm: [630, 640] });
  await nwb.addDevice({ neurodata_type: "ExcitationSource", name: "Alignment laser", description: "Continuous-wave laser that aligns the light path; off while imaging.", serial_number: "M00412", model: "CPS635R", power_in_W: 0.0012, intensity_in_W_per_m2: 1500, exposure_time_in_s: 0.5 });
  await nwb.addDevice({ neurodata_type: "PhotodetectorModel", name: "H10770PA-40", description: "GaAsP photomultiplier module.", manufacturer: "Hamamatsu", model_number: "H10770PA-40", detector_type: "PMT", wavelength_range_in_nm: [300, 720], gain: 0.7, gain_unit: "V" });
  await nwb.addDevice({ neurodata_type: "Photodetector", name: "PMT Green", description: "Green-channel PMT.", serial_number: "ZA1844", model: "H10770PA-40" });
  await nwb.addDevice({ neurodata_type: "Photodetector", name: "PMT Red", description: "Red-channel PMT.", serial_number: "ZA1851", model: "H10770PA-40" });
  await nwb.addDevice({ neurodata_type: "DichroicMirrorModel", name: "FF705-Di01", description: "Primary long-pass dichroic.", manufacturer: "Semrock", model_number: "FF705-Di01", cut_on_wavelength_in_nm: 705, cut_off_wavelength_in_nm: 690, reflection_band_in_nm: [350, 690], transmission_band_in_nm: [720, 1100], angle_of_incidence_in_degrees: 45 });
  await nwb.addDevice({ neurodata_type: "DichroicMirror", name: "Primary dichroic", description: "Separates excitation from emission.", serial_number: "DM-705-3", model: "FF705-Di01" });
  await nwb.addDevice({ neurodata_type: "EdgeOpticalFilterModel", name: "FF01-680-SP", description: "Short-pass IR blocking filter.", manufacturer: "Semrock", model_number: "FF01-680/SP-25", filter_type: "Shortpass", cut_wavelength_in_nm: 680, slope_in_percent_cut_wavelength: 1, slope_starting_transmission_in_percent: 10, slope_ending_transmission_in_percent: 80 });
  await nwb.addDevice({ neurodata_type: "EdgeOpticalFilter", name: "IR blocker", description: "Blocks laser light before the PMTs.", serial_number: "SP680-11", model: "FF01-680-SP" });
  await nwb.addDevice({ neurodata_type: "BandOpticalFilterModel", name: "FF01-525-50", description: "Green emission band-pass.", manufacturer: "Semrock", model_number: "FF01-525/50-25", filter_type: "Bandpass", center_wavelength_in_nm: 525, bandwidth_in_nm: 50 });
  await nwb.addDevice({ neurodata_type: "BandOpticalFilter", name: "Green emission filter", description: "Green channel band-pass.", serial_number: "BP525-7", model: "FF01-525-50" });
  await nwb.addDevice({ neurodata_type: "OpticalFilterModel", name: "FF01-607-70", description: "Red emission band-pass.", manufacturer: "Semrock", model_number: "FF01-607/70-25", filter_type: "Bandpass" });
  await nwb.addDevice({ neurodata_type: "OpticalFilter", name: "Red emission filter", description: "Red channel band-pass.", serial_number: "BP607-2", model: "FF01-607-70" });
  await nwb.addDevice({ neurodata_type: "OpticalLensModel", name: "N16XLWD-PF", description: "16x water-immersion objective.", manufacturer: "Nikon", model_number: "N16XLWD-PF", numerical_aperture: 0.8, magnification: 16 });
  await nwb.addDevice({ neurodata_type: "OpticalLens", name: "Objective", description: "Imaging objective.", serial_number: "N16-55120", model: "N16XLWD-PF" });

  const rigLinks = { microscope: "Microscope", excitation_source: "Laser", excitation_filter: "IR blocker", dichroic_mirror: "Primary dichroic", optical_lens: "Objective" };
  await nwb.addRig({ name: "GreenPath", description: "Laser to green PMT through the 525/50 filter.", ...rigLinks, photodetector: "PMT Green", emission_filter: "Green emission filter" });
  await nwb.addRig({ name: "RedPath", description: "Laser to red PMT through the 607/70 filter.", ...rigLinks, photodetector: "PMT Red", emission_filter: "Red emission filter" });
  await nwb.addChannel({ name: "Green", description: "GCaMP6f fluorescence.", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 525, indicator: { label: "GCaMP6f", description: "Genetically encoded calcium indicator.", manufacturer: "Addgene", injection_brain_region: "VISp", injection_coordinates_in_mm: [-2.5, 2.7, 0.3] } });
  await nwb.addChannel({ name: "Red", description: "tdTomato fluorescence (structural).", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 607, indicator: { label: "tdTomato", description: "Red structural marker.", manufacturer: "Addgene", injection_brain_region: "VISp" } });

  const lineScan = { neurodata_type: "LineScan" as const, description: "Bidirectional resonant-galvo scanning.", scan_direction: "horizontal" as const, line_rate_in_Hz: 15820, dwell_time_in_s: 1e-7 };
  const place = { location: "VISp layer 2/3", reference_frame: "bregma", orientation: "RAS" };
  const p = scale.planarSize, q = scale.planeSize, v = scale.volumeSize;
  await nwb.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "One plane 180 µm below the pia.", ...place, origin_coordinates: [-2.7, 2.5, 0.18], pixel_size_in_um: [512 / p, 512 / p], dimensions_in_pixels: [p, p], illumination_pattern: lineScan });
  for (let k = 0; k < PLANES; k++) {
    await nwb.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: `ETLPlane${k}`, description: `ETL plane ${k}, ${150 + 30 * k} µm below the pia.`, ...place, origin_coordinates: [-2.7, 2.5, 0.15 + 0.03 * k], pixel_size_in_um: [512 / q, 512 / q], dimensions_in_pixels: [q, q], illumination_pattern: lineScan });
  }
  await nwb.addImagingSpace({ neurodata_type: "VolumetricImagingSpace", name: "Volume", description: `Volume of ${scale.depths} planes, 10 µm apart.`, ...place, origin_coordinates: [-2.7, 2.5, 0.12], voxel_size_in_um: [512 / v, 512 / v, 10], dimensions_in_voxels: [v, v, scale.depths], illumination_pattern: { neurodata_type: "PlaneAcquisition", description: "Remote-focus plane stepping.", plane_rate_in_Hz: VOLUME_RATE * scale.depths, point_spread_function_in_um: "0.9 ± 0.1" } });
  await nwb.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Targets", description: "Random-access targets on cell bodies.", ...place, dimensions_in_pixels: [p, p], pixel_size_in_um: [512 / p, 512 / p], illumination_pattern: { neurodata_type: "RandomAccessScan", description: "AOD random-access point scanning.", max_scan_points: 200, dwell_time_in_s: 2e-5, scanning_pattern: "cell-body centres from the reference image" } });

  // ---- two channels of one plane, in a MultiChannelMicroscopyContainer, timestamped by the scanner
  await nwb.addContainer({ neurodata_type: "MultiChannelMicroscopyContainer" });
  // gzip level 1: nwbinspector suggests compressing any dataset over 50 MB, and level 1 keeps up with 2 × 8 MB/s.
  const common = { container: "MultiChannelMicroscopyContainer", imaging_space: "Plane", data_type: "uint16" as const, frame_shape: [p, p] as [number, number], clock: { timestamps: true as const }, storage: { gzipLevel: 1 } };
  const green = await nwb.createPlanarSeries({ ...common, name: "PlanarMicroscopySeriesGreen", description: "Green channel frames (frames x height x width).", microscopy_rig: "GreenPath", microscopy_channel: "Green" });
  const red = await nwb.createPlanarSeries({ ...common, name: "PlanarMicroscopySeriesRed", description: "Red channel frames (frames x height x width).", microscopy_rig: "RedPath", microscopy_channel: "Red" });

  const frames = Math.round(scale.seconds * FRAME_RATE);
  const dropAt = Math.floor(frames / 2);
  const dropped = 3;
  const greenFrames: Uint16Array[] = [];
  let written = 0;
  for (let i = 0; i < frames; i++) {
    if (i >= dropAt && i < dropAt + dropped) continue; // the scanner lost these: no invented frames
    const t = 0.05 + i / FRAME_RATE + (rand() - 0.5) * 2e-5; // hardware clock jitter
    const g = sample.render(p, p, t, "green");
    greenFrames.push(g.slice()); // kept for the ROI traces; g itself is transferred
    await nwb.append(green, g, [t]);
    await nwb.append(red, sample.render(p, p, t, "red"), [t]);
    written++;
  }
  const gapStart = 0.05 + (dropAt - 1) / FRAME_RATE;
  await nwb.addEvents([{ time: gapStart, kind: "dropped_frames", source: "PlanarMicroscopySeriesGreen", message: `${dropped} frames missing (hardware counter ${dropAt - 1} → ${dropAt + dropped})` }]);

  // ---- ETL multi-plane: 4 planes, each its own series on a regular clock offset by its plane time
  await nwb.addContainer({ neurodata_type: "MultiPlaneMicroscopyContainer" });
  const planeRate = FRAME_RATE / PLANES;
  for (let k = 0; k < PLANES; k++) {
    const s = await nwb.createPlanarSeries({ name: `PlanarMicroscopySeriesPlane${k}`, container: "MultiPlaneMicroscopyContainer", description: `ETL plane ${k} (frames x height x width).`, data_type: "uint16", frame_shape: [q, q], microscopy_rig: "GreenPath", microscopy_channel: "Green", imaging_space: `ETLPlane${k}`, clock: { starting_time: 0.05 + k / FRAME_RATE, rate: planeRate } });
    const n = Math.floor(scale.seconds * planeRate);
    const batch = new Uint16Array(n * q * q);
    for (let i = 0; i < n; i++) batch.set(sample.render(q, q, i / planeRate, "green", 0.2 + 0.2 * k), i * q * q);
    await nwb.append(s, batch); // a whole plane movie in one append
  }

  // ---- volumes: depth is the last axis of (frames, height, width, depths)
  const vol = await nwb.createVolumetricSeries({ name: "VolumetricMicroscopySeries", description: "Volumes (frames x height x width x depths).", data_type: "uint16", frame_shape: [v, v, scale.depths], microscopy_rig: "GreenPath", microscopy_channel: "Green", imaging_space: "Volume", clock: { starting_time: 0.05, rate: VOLUME_RATE }, storage: { chunkBytes: 1024 * 1024, gzipLevel: 4 } });
  const volumes = Math.floor(scale.seconds * VOLUME_RATE);
  const maxProjection = new Float32Array(v * v * scale.depths);
  for (let i = 0; i < volumes; i++) {
    const volume = new Uint16Array(v * v * scale.depths);
    for (let d = 0; d < scale.depths; d++) {
      const plane = sample.render(v, v, i / VOLUME_RATE, "green", (d + 0.5) / scale.depths);
      for (let k = 0; k < plane.length; k++) volume[k * scale.depths + d] = plane[k]!;
    }
    volume.forEach((x, k) => (maxProjection[k] = Math.max(maxProjection[k]!, x)));
    await nwb.append(vol, volume);
  }

  // ---- segmentation: ROIs of the synthetic cells, as pixel masks and (one) as an image mask
  const pixelMask = (cell: number, size: number): PixelMask => {
    const mask: PixelMask = [];
    for (let x = 0; x < size; x++) for (let y = 0; y < size; y++) {
      const w = sample.weight(cell, (x + 0.5) / size, (y + 0.5) / size);
      if (w > 0.05) mask.push([x, y, Number(w.toFixed(3))]);
    }
    return mask;
  };
  const cells = sample.cells.map((_, i) => i).filter((i) => pixelMask(i, p).length > 0);
  const masks = cells.map((i) => pixelMask(i, p));
  const mean = new Float32Array(p * p);
  for (const f of greenFrames) for (let k = 0; k < f.length; k++) mean[k] = mean[k]! + f[k]! / greenFrames.length;
  // Summary images are stored [x][y]; the frames are [row=y][col=x].
  const meanXY = new Float32Array(p * p).map((_, k) => mean[(k % p) * p + Math.floor(k / p)]!);
  await nwb.addPlanarSegmentation({
    name: "PlanarSegmentation",
    description: "Cell bodies in the green channel, from the synthetic sample's ground truth.",
    imaging_space: "Plane",
    rois: masks.map((m, i) => (i === 0 ? { image_mask: pixelToImage(m, [p, p]) } : { pixel_mask: m })),
    summary_images: [{ name: "mean", description: "Mean projection of the green channel.", shape: [p, p], data: meanXY }],
  });
  // The random-access targets: one point per cell body, on the imaging space whose pattern is a RandomAccessScan.
  await nwb.addPlanarSegmentation({
    name: "PlanarSegmentationTargets",
    description: "Random-access scan points, one at the centre of each cell body.",
    imaging_space: "Targets",
    rois: masks.map((m) => {
      const [x, y] = m.reduce((best, px) => (px[2]! > best[2]! ? px : best));
      return { pixel_mask: [[x!, y!, 1]] };
    }),
    summary_images: [],
  });
  const voxelMask = (cell: number): VoxelMask => {
    const mask: VoxelMask = [];
    for (let x = 0; x < v; x++) for (let y = 0; y < v; y++) for (let z = 0; z < scale.depths; z++) {
      const w = sample.weight(cell, (x + 0.5) / v, (y + 0.5) / v, (z + 0.5) / scale.depths);
      if (w > 0.05) mask.push([x, y, z, Number(w.toFixed(3))]);
    }
    return mask;
  };
  const voxelCells = sample.cells.map((_, i) => voxelMask(i)).filter((m) => m.length > 0);
  const maxXYZ = new Float32Array(v * v * scale.depths).map((_, k) => {
    const z = k % scale.depths, y = Math.floor(k / scale.depths) % v, x = Math.floor(k / (scale.depths * v));
    return maxProjection[(y * v + x) * scale.depths + z]!;
  });
  await nwb.addVolumetricSegmentation({
    name: "VolumetricSegmentation",
    description: "Cell bodies in the volume, from the synthetic sample's ground truth.",
    imaging_space: "Volume",
    rois: voxelCells.map((m, i) => (i === 0 ? { volume_mask: voxelToVolume(m, [v, v, scale.depths]) } : { voxel_mask: m })),
    summary_images: [{ name: "max", description: "Maximum projection of the volumes.", shape: [v, v, scale.depths], data: maxXYZ }],
  });

  // ---- ROI traces: weighted mean of each ROI in every green frame, sharing the frames' timestamps
  const traces = await nwb.createResponseSeries({ name: "MicroscopyResponseSeries", description: "Weighted mean fluorescence of each ROI in the green channel (frames x rois).", unit: "a.u.", segmentation: "PlanarSegmentation", rois_description: "All ROIs of PlanarSegmentation.", microscopy_series: green.name, clock: "source" });
  const rows = new Float32Array(greenFrames.length * masks.length);
  greenFrames.forEach((f, i) => masks.forEach((m, r) => {
    const total = m.reduce((s, [, , w]) => s + w, 0);
    rows[i * masks.length + r] = m.reduce((s, [x, y, w]) => s + w * f[y * p + x]!, 0) / total;
  }));
  await nwb.append(traces, rows);

  // ---- telemetry: polled device state, and what happened
  const poll = (hz: number) => Array.from({ length: Math.floor(scale.seconds * hz) }, (_, i) => 0.02 + i / hz + rand() * 0.004);
  const power = await nwb.createTelemetrySeries({ name: "LaserPower", description: "Laser output power read back from the laser.", unit: "W", continuity: "continuous", clock: { timestamps: true } });
  const powerTimes = poll(4);
  await nwb.append(power, Float64Array.from(powerTimes, (t) => 1.52 + 0.01 * Math.sin(t)), powerTimes);
  const wavelength = await nwb.createTelemetrySeries({ name: "LaserWavelength", description: "Laser wavelength read back from the laser.", unit: "m", continuity: "step", clock: { timestamps: true } });
  const wlTimes = poll(1);
  await nwb.append(wavelength, Float64Array.from(wlTimes, () => 920e-9), wlTimes);
  const gain = await nwb.createTelemetrySeries({ name: "PMTGainGreen", description: "Green PMT control voltage read back from the controller.", unit: "V", continuity: "step", clock: { timestamps: true } });
  const gainTimes = poll(2);
  await nwb.append(gain, Float64Array.from(gainTimes, (t) => (t < scale.seconds * 0.7 ? 0.7 : 0.65)), gainTimes);
  await nwb.addEvents([
    { time: scale.seconds * 0.7, kind: "fault", source: "PMT Green", message: "overload trip; gain lowered from 0.70 V to 0.65 V and the trip reset" },
    { time: scale.seconds * 0.8, kind: "mark", source: "user", message: "whisker puff" },
  ]);

  const report = await nwb.close();
  // Every object added is in the file: the writer names any it had to leave out.
  if (report.empty.length + report.unused.length) throw new Error(`not in the file: ${[...report.empty, ...report.unused].join(", ")}`);
  return { frames: report.samples[green.name] ?? 0, droppedFrames: frames - written };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) {
    console.error("usage: npm run example -- OUT.nwb [--force]");
    process.exit(2);
  }
  mkdirSync(dirname(resolve(out)), { recursive: true });
  const started = Date.now();
  writeExampleSession(out, { ...DEFAULT_SCALE, overwrite: process.argv.includes("--force") })
    .then(({ frames, droppedFrames }) => {
      console.log(`wrote ${out}: ${frames} frames per channel (${droppedFrames} dropped and recorded as an event) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    })
    .catch((e: Error) => {
      console.error(`rigd example: ${e.message}`);
      process.exit(1);
    });
}
