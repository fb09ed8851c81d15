// What an NWB file holds, for people: session, subject, devices, every series (shape, samples, rate,
// duration), telemetry and the event record. Reads with h5wasm on the calling thread: for the CLI.
import h5wasm from "h5wasm/node";
import type { Dataset, Group } from "h5wasm/node";
import { existsSync } from "node:fs";
import { describeCause } from "./failure.js";
import { loadHdf5 } from "./hdf5.js";
import { isHdf5File } from "./lock.js";
import { EVENTS_NAME } from "./model.js";

export interface SeriesSummary {
  path: string;
  neurodata_type: string;
  shape: number[];
  samples: number;
  /** Samples per second: declared, or from the median interval of the timestamps. */
  rate_Hz: number | undefined;
  duration_s: number;
  unit: string;
  /** Samples that the event record says were dropped in this series. */
  dropped: number;
}

/** An ROI table (PlanarSegmentation, VolumetricSegmentation) and the SummaryImages beside its ROIs. */
export interface SegmentationSummary {
  path: string;
  neurodata_type: string;
  rois: number;
  summary_images: { name: string; shape: number[] }[];
}

/** A core Images container: summary images of a series without ROIs. */
export interface ImagesSummary {
  path: string;
  images: { name: string; shape: number[] }[];
}

export interface FileSummary {
  path: string;
  session_description: string;
  session_start_time: string;
  identifier: string;
  subject: Record<string, string>;
  devices: { name: string; type: string; serial_number?: string }[];
  series: SeriesSummary[];
  segmentations: SegmentationSummary[];
  images: ImagesSummary[];
  events: { time_s: number; text: string }[];
}

type Obj = Group | Dataset;

/** Throws, in one line, if `path` is missing, not HDF5, not readable by HDF5 (truncated) or not NWB. */
export async function summarize(path: string): Promise<FileSummary> {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  if (!isHdf5File(path)) throw new Error(`${path} is not an HDF5 file, so not an NWB file`);
  await loadHdf5();
  let f: InstanceType<typeof h5wasm.File>;
  try {
    f = new h5wasm.File(path, "r");
  } catch (e) {
    throw new Error(`${path}: HDF5 cannot open it: ${describeCause(e).detail} (a file left by a crash: rigd recover)`);
  }
  try {
    if (f.attrs["nwb_version"] === undefined) throw new Error(`${path} is an HDF5 file but not an NWB file (it has no nwb_version)`);
    const get = (p: string) => f.get(p) as Obj | null;
    const value = (p: string) => (get(p) as Dataset | null)?.value;
    const attr = (o: Obj | null, name: string) => o?.attrs[name]?.value;
    const group = (p: string) => get(p) as Group | null;

    const events: FileSummary["events"] = [];
    const eventText = value(`acquisition/${EVENTS_NAME}/data`) as string[] | undefined;
    const eventTimes = value(`acquisition/${EVENTS_NAME}/timestamps`) as Float64Array | undefined;
    eventText?.forEach((text, i) => events.push({ time_s: eventTimes?.[i] ?? Number.NaN, text }));

    const series: SeriesSummary[] = [];
    const segmentations: SegmentationSummary[] = [];
    const imageSets: ImagesSummary[] = [];
    const visit = (p: string) => {
      const g = group(p);
      if (!g) return;
      for (const key of g.keys()) {
        const child = `${p}/${key}`;
        if (f.get_link(`/${child}`)) continue;
        const type = attr(get(child), "neurodata_type") as string | undefined;
        if (type && /Series$/.test(type) && type !== "AnnotationSeries") series.push(seriesSummary(child, type));
        else if (type && /^(Planar|Volumetric)Segmentation$/.test(type)) segmentations.push(segmentationSummary(child, type));
        else if (type === "Images") imageSets.push({ path: `/${child}`, images: group(child)!.keys().map((name) => ({ name, shape: (get(`${child}/${name}`) as Dataset).shape ?? [] })) });
        else if (get(child) instanceof h5wasm.Group) visit(child);
      }
    };
    const seriesSummary = (p: string, type: string): SeriesSummary => {
      const data = get(`${p}/data`) as Dataset;
      const shape = data.shape ?? [];
      const samples = shape[0] ?? 0;
      const timestamps = value(`${p}/timestamps`) as Float64Array | undefined;
      const start = get(`${p}/starting_time`) as Dataset | null;
      const declared = attr(start, "rate") as number | undefined;
      const duration = timestamps ? (samples > 1 ? timestamps[samples - 1]! - timestamps[0]! : 0) : declared ? samples / declared : 0;
      // The median interval: a dropped-frame gap must not lower the rate.
      const intervals = timestamps ? Array.from(timestamps.subarray(1), (t, i) => t - timestamps[i]!).sort((a, b) => a - b) : [];
      const median = intervals[Math.floor(intervals.length / 2)];
      const rate = declared ?? (median ? 1 / median : undefined);
      const name = p.split("/").pop()!;
      // Dropped-sample entries read "dropped_frames [SeriesName] N frames missing …" or, for volumes (whose
      // lost planes are recorded too), "… 1 volume dropped …": count the samples this series lacks.
      const lost = type.startsWith("Volumetric") ? / volumes? dropped/ : / frames? (missing|set aside)/;
      const dropped = events.reduce((n, e) => {
        const m = /^dropped_frames \[([^\]]+)\] (\d+)/.exec(e.text);
        return m && m[1] === name && lost.test(e.text) ? n + Number(m[2]) : n;
      }, 0);
      return { path: `/${p}`, neurodata_type: type, shape, samples, rate_Hz: rate, duration_s: duration, unit: String(attr(data, "unit") ?? ""), dropped };
    };
    const segmentationSummary = (p: string, type: string): SegmentationSummary => {
      const images = group(p)!.keys().filter((k) => attr(get(`${p}/${k}`), "neurodata_type") === "SummaryImage");
      return {
        path: `/${p}`,
        neurodata_type: type,
        rois: (get(`${p}/id`) as Dataset | null)?.shape?.[0] ?? 0,
        summary_images: images.map((name) => ({ name, shape: (get(`${p}/${name}/data`) as Dataset | null)?.shape ?? [] })),
      };
    };
    visit("acquisition");
    visit("processing");

    const devices = (group("general/devices")?.keys() ?? []).map((name) => {
      const d = get(`general/devices/${name}`);
      const serial = attr(d, "serial_number") as string | undefined;
      return { name, type: String(attr(d, "neurodata_type")), ...(serial ? { serial_number: serial } : {}) };
    });
    const subject: Record<string, string> = {};
    for (const key of group("general/subject")?.keys() ?? []) subject[key] = String(value(`general/subject/${key}`));

    return {
      path,
      session_description: String(value("session_description")),
      session_start_time: String(value("session_start_time")),
      identifier: String(value("identifier")),
      subject,
      devices,
      series,
      segmentations,
      images: imageSets,
      events,
    };
  } finally {
    f.close();
  }
}

/** The summary as text for a terminal. */
export function formatSummary(s: FileSummary): string {
  const lines = [
    s.path,
    `  session     ${s.session_description}`,
    `  started     ${s.session_start_time}   identifier ${s.identifier}`,
  ];
  if (Object.keys(s.subject).length) lines.push(`  subject     ${Object.entries(s.subject).map(([k, v]) => `${k}=${v}`).join("  ")}`);
  lines.push(`  devices (${s.devices.length})`);
  for (const d of s.devices) lines.push(`    ${d.name.padEnd(28)} ${d.type}${d.serial_number ? `  s/n ${d.serial_number}` : ""}`);
  lines.push(`  series (${s.series.length})`);
  for (const x of s.series) {
    const rate = x.rate_Hz === undefined ? "-" : `${x.rate_Hz.toFixed(2)} Hz`;
    lines.push(`    ${x.path}`);
    lines.push(`      ${x.neurodata_type}  ${x.samples} samples of ${x.shape.slice(1).join("×") || "scalar"}  ${rate}  ${x.duration_s.toFixed(2)} s  unit ${x.unit}${x.dropped ? `  ${x.dropped} dropped` : ""}`);
  }
  if (s.segmentations.length) lines.push(`  segmentations (${s.segmentations.length})`);
  for (const g of s.segmentations) {
    lines.push(`    ${g.path}`);
    lines.push(`      ${g.neurodata_type}  ${g.rois} ROIs${g.summary_images.length ? `  summary images: ${g.summary_images.map((i) => `${i.name} ${i.shape.join("×")}`).join(", ")}` : ""}`);
  }
  if (s.images.length) lines.push(`  images (${s.images.length})`);
  for (const g of s.images) lines.push(`    ${g.path}`, `      ${g.images.map((i) => `${i.name} ${i.shape.join("×")}`).join(", ")}`);
  lines.push(`  events (${s.events.length})`);
  for (const e of s.events) lines.push(`    ${e.time_s.toFixed(3).padStart(9)} s  ${e.text}`);
  return lines.join("\n");
}
