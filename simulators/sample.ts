// A synthetic sample under a two-photon microscope, for the scanner simulator and the example session:
// neurons at fixed 3-D positions firing Poisson spikes through a GCaMP-like kernel (green), the same cells in a
// static red structural marker, background fluorescence that drifts slowly, the digitizer's offset, shot noise,
// and small rigid motion (breathing on top of a slow drift). Brightness follows the light that reaches the
// sample (shutter, power, wavelength against each fluorophore's excitation spectrum) and the PMT's gain, so a
// closed shutter leaves only the offset and its noise. The ground truth (masks, ΔF/F, motion) is exportable.
import { FRAME_DTYPES, type FrameData, type FrameDtype } from "../src/drivers/frame-source.js";

/** A deterministic PRNG (mulberry32): the same seed gives the same sample and noise. */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Green: the calcium indicator (GCaMP); red: the structural marker (tdTomato). */
export type Fluorophore = "green" | "red";

/** The excitation light as the tunable laser simulators expose it: their instances fit as they are. */
export interface LaserLight {
  readonly shutterOpen: boolean;
  /** Output power in W (0 while not emitting). */
  readonly powerW: number;
  readonly wavelengthNm: number;
}

export interface Conditions {
  laser: LaserLight;
  /** What the PMT multiplies the signal by, as SimulatedPmt.signalScale gives it (0 while disabled or tripped). */
  signalScale: number;
}

/** The conditions under which the sample shows its nominal brightness: 1.5 W at 920 nm, PMT signal scale 1. */
export const NOMINAL: Conditions = { laser: { shutterOpen: true, powerW: 1.5, wavelengthNm: 920 }, signalScale: 1 };

/** Two-photon excitation spectra, as a peak and a width: GCaMP6 peaks near 920 nm, tdTomato broadly near 1050 nm. */
const EXCITATION: Record<Fluorophore, { peakNm: number; widthNm: number }> = { green: { peakNm: 920, widthNm: 60 }, red: { peakNm: 1050, widthNm: 150 } };
/** Counts at nominal brightness: the digitizer's offset (there in the dark), background fluorescence, a cell's centre. */
const OFFSET = 100;
const BACKGROUND = 20;
const CELL: Record<Fluorophore, number> = { green: 540, red: 600 };
/** Variance of the dark signal (electronics), in counts². */
const READ_VARIANCE = 4;

export interface SampleOptions {
  /** Mean spikes per second of each cell (Poisson). */
  rate_Hz: number;
  /** Time constants of the indicator's response to one spike. */
  rise_s: number;
  decay_s: number;
  /** ΔF/F one spike adds, before the kernel's rise and decay. */
  dff_per_spike: number;
  /** Scales the rigid motion; 0 holds the sample still. */
  motion: number;
}

const DEFAULTS: SampleOptions = { rate_Hz: 0.8, rise_s: 0.05, decay_s: 0.7, dff_per_spike: 1.5, motion: 1 };

export interface Cell {
  /** Centre in normalized coordinates of the field of view (x along the width), z through the imaged depth. */
  x: number;
  y: number;
  z: number;
  /** Radius as a fraction of the field of view. */
  r: number;
  /** Relative brightness of this cell. */
  brightness: number;
  /** Spike times in s, drawn as far as the sample has been asked about. */
  spikes: number[];
}

/** Everything a test needs to check an analysis against: masks at rest, the motion that moves them, ΔF/F. */
export interface GroundTruth {
  width: number;
  height: number;
  /** Depth the masks are for; null: each cell in its own focus. */
  z: number | null;
  times_s: number[];
  /** Rigid shift [dx, dy] in pixels of the image at each time: a cell's pixels at rest, moved by this. */
  motion_px: [number, number][];
  cells: { x: number; y: number; z: number; r: number; spikes_s: number[]; pixel_mask: [x: number, y: number, weight: number][]; dff: number[] }[];
}

/** A cell's footprint in one image size and depth, at rest. */
interface Profile {
  cols: Uint16Array;
  rows: Uint16Array;
  weight: Float32Array;
}

export class SyntheticSample {
  readonly cells: Cell[] = [];
  readonly options: SampleOptions;
  /** State of the pixel noise generator (xorshift32: never 0). */
  private noise: number;
  /** Each cell draws its spikes from its own generator, so they are the same whatever order they are asked for in. */
  private readonly spikeSources: { rand: () => number; next: number }[] = [];
  private readonly profiles = new Map<string, Profile[]>();

  /** Spikes are drawn up front for `seconds`, and on demand beyond. */
  constructor(count: number, seconds: number, seed = 7, options: Partial<SampleOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
    const rand = random(seed);
    this.noise = (seed * 2654435761) | 0 || 1;
    for (let i = 0; i < count; i++) {
      this.cells.push({ x: 0.1 + 0.8 * rand(), y: 0.1 + 0.8 * rand(), z: rand(), r: 0.025 + 0.015 * rand(), brightness: 0.7 + 0.6 * rand(), spikes: [] });
      const spikes = random(seed * 7919 + i);
      this.spikeSources.push({ rand: spikes, next: this.interval(spikes) });
      this.spikesUntil(i, seconds);
    }
  }

  private interval(rand: () => number): number {
    return -Math.log(1 - rand()) / this.options.rate_Hz;
  }

  private spikesUntil(cell: number, t: number): number[] {
    const source = this.spikeSources[cell]!;
    const spikes = this.cells[cell]!.spikes;
    while (source.next <= t) {
      spikes.push(source.next);
      source.next += this.interval(source.rand);
    }
    return spikes;
  }

  /** ΔF/F of a cell at time t: every earlier spike through the kernel (1 − e^(−t/rise)) e^(−t/decay). */
  activity(cell: number, t: number): number {
    const { rise_s, decay_s, dff_per_spike } = this.options;
    const spikes = this.spikesUntil(cell, t);
    // The last spike at or before t (later ones may have been drawn already)…
    let low = 0;
    for (let high = spikes.length; low < high; ) {
      const mid = (low + high) >>> 1;
      if (spikes[mid]! <= t) low = mid + 1;
      else high = mid;
    }
    let f = 0;
    // …and back from there, stopping where the kernel has decayed to nothing: the cost stays flat however long it runs.
    for (let k = low - 1; k >= 0 && t - spikes[k]! < 12 * decay_s; k--) {
      const d = t - spikes[k]!;
      f += (1 - Math.exp(-d / rise_s)) * Math.exp(-d / decay_s);
    }
    return dff_per_spike * f;
  }

  /** Rigid displacement of the sample at time t, as a fraction of the field of view: breathing at 2.5 Hz on a slow, bounded drift. */
  motion(t: number): { x: number; y: number } {
    const breath = Math.sin(2 * Math.PI * 2.5 * t);
    const m = this.options.motion;
    return { x: m * (0.01 * Math.sin((2 * Math.PI * t) / 1200) + 0.001 * breath), y: m * (0.006 * Math.sin((2 * Math.PI * t) / 900) + 0.002 * breath) };
  }

  /** Weight of a cell at a normalized position (a Gaussian profile of its radius), 0 far away; z absent = in focus. */
  weight(cell: number, x: number, y: number, z = this.cells[cell]!.z): number {
    const c = this.cells[cell]!;
    const d2 = ((x - c.x) ** 2 + (y - c.y) ** 2) / c.r ** 2 + ((z - c.z) / 0.15) ** 2;
    return d2 > 4 ? 0 : Math.exp(-d2);
  }

  /** Where each cell shows in a width × height image at depth z, at rest (cached: cells stay put). */
  private profile(width: number, height: number, z: number | undefined): Profile[] {
    const key = `${width}x${height}@${z}`;
    let profiles = this.profiles.get(key);
    if (!profiles) {
      profiles = this.cells.map((c, i) => {
        const cols: number[] = [];
        const rows: number[] = [];
        const weight: number[] = [];
        // Only the box around the cell: beyond twice its radius its weight is 0.
        const span = (centre: number, size: number) => [Math.max(0, Math.floor((centre - 2 * c.r) * size)), Math.min(size - 1, Math.ceil((centre + 2 * c.r) * size))] as const;
        const [col0, col1] = span(c.x, width);
        const [row0, row1] = span(c.y, height);
        for (let row = row0; row <= row1; row++) {
          for (let col = col0; col <= col1; col++) {
            const w = this.weight(i, (col + 0.5) / width, (row + 0.5) / height, z);
            if (w > 0) cols.push(col), rows.push(row), weight.push(w);
          }
        }
        return { cols: Uint16Array.from(cols), rows: Uint16Array.from(rows), weight: Float32Array.from(weight) };
      });
      this.profiles.set(key, profiles);
    }
    return profiles;
  }

  /** How bright a fluorophore shows under these conditions, relative to nominal (two-photon: power squared). */
  brightness(fluorophore: Fluorophore, { laser, signalScale }: Conditions): number {
    if (!laser.shutterOpen) return 0;
    const { peakNm, widthNm } = EXCITATION[fluorophore];
    const excitation = (nm: number) => Math.exp(-(((nm - peakNm) / widthNm) ** 2));
    return (laser.powerW / NOMINAL.laser.powerW) ** 2 * (excitation(laser.wavelengthNm) / excitation(NOMINAL.laser.wavelengthNm)) * (signalScale / NOMINAL.signalScale);
  }

  /** One image [height][width] (row-major, x along the width) in counts, noise included, not yet clipped to a pixel type. */
  image(width: number, height: number, t: number, fluorophore: Fluorophore, z?: number, conditions: Conditions = NOMINAL): Float32Array {
    const gain = this.brightness(fluorophore, conditions);
    const image = new Float32Array(width * height).fill(gain * BACKGROUND * (1 + 0.05 * Math.sin((2 * Math.PI * t) / 300)));
    const shift = this.motion(t);
    const dx = Math.round(shift.x * width);
    const dy = Math.round(shift.y * height);
    this.profile(width, height, z).forEach(({ cols, rows, weight }, i) => {
      const cell = this.cells[i]!;
      const level = gain * CELL[fluorophore] * cell.brightness * (fluorophore === "green" ? 1 + this.activity(i, t) : 1);
      if (level === 0) return;
      for (let k = 0; k < weight.length; k++) {
        const col = cols[k]! + dx;
        const row = rows[k]! + dy;
        if (col >= 0 && col < width && row >= 0 && row < height) image[row * width + col]! += level * weight[k]!;
      }
    });
    // Shot noise grows with the square root of the signal. Uniform rather than Gaussian, from an xorshift inlined
    // here: a function call per pixel was most of the cost of a 512² frame.
    let s = this.noise;
    for (let k = 0; k < image.length; k++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const v = image[k]!;
      image[k] = OFFSET + v + Math.sqrt(v + READ_VARIANCE) * 3 * ((s >>> 0) / 4294967296 - 0.5);
    }
    this.noise = s;
    return image;
  }

  /** One 16-bit image; see image(). */
  render(width: number, height: number, t: number, fluorophore: Fluorophore, z?: number, conditions: Conditions = NOMINAL): Uint16Array {
    return quantize(this.image(width, height, t, fluorophore, z, conditions), "uint16") as Uint16Array;
  }

  /** Masks at rest, the motion and every cell's ΔF/F at `times_s`, for a width × height image at depth z (absent: each cell in focus). */
  groundTruth(width: number, height: number, times_s: readonly number[], z?: number): GroundTruth {
    const end = times_s.reduce((a, b) => Math.max(a, b), 0);
    return {
      width,
      height,
      z: z ?? null,
      times_s: [...times_s],
      motion_px: times_s.map((t) => {
        const m = this.motion(t);
        return [Math.round(m.x * width), Math.round(m.y * height)];
      }),
      cells: this.cells.map((c, i) => {
        const dff = times_s.map((t) => this.activity(i, t));
        const profile = this.profile(width, height, z)[i]!;
        const pixel_mask: [number, number, number][] = [];
        profile.weight.forEach((w, k) => {
          if (w > 0.05) pixel_mask.push([profile.cols[k]!, profile.rows[k]!, w]);
        });
        return { x: c.x, y: c.y, z: c.z, r: c.r, spikes_s: this.spikesUntil(i, end).filter((t) => t <= end), pixel_mask, dff };
      }),
    };
  }
}

const RANGE: Record<Exclude<FrameDtype, "float32">, [number, number]> = { uint8: [0, 255], uint16: [0, 65535], int16: [-32768, 32767] };

/** An image in counts as a digitizer of this pixel type gives it: rounded, and clipped where the signal exceeds its range. */
export function quantize(image: Float32Array, dtype: FrameDtype): FrameData {
  if (dtype === "float32") return image;
  const [low, high] = RANGE[dtype];
  const out = new FRAME_DTYPES[dtype](image.length);
  // floor(v + 0.5) is Math.round by its definition, and a third of its cost here: most of a 512² frame's render.
  for (let k = 0; k < image.length; k++) out[k] = Math.min(high, Math.max(low, Math.floor(image[k]! + 0.5)));
  return out;
}
