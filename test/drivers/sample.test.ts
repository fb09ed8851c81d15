// The synthetic sample behind the scanner simulator: calcium transients with the specified rise and decay,
// brightness that follows the laser and the PMT (a closed shutter darkens the frames, also through the
// scanner), and ground truth — masks, ΔF/F, motion — that matches what the frames show.
import { afterEach, describe, expect, it } from "vitest";
import { ZmqFrameSource } from "../../src/drivers/zmq-frames.js";
import { type Conditions, NOMINAL, SyntheticSample } from "../../simulators/sample.js";
import { ScannerSimulator } from "../../simulators/zmq-scanner.js";
import { releaseFrame } from "../../src/frame-slots.js";

const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

/** A spike with no other spike of its cell in the 12 s before it (the kernel has decayed to nothing) or the 3 s after. */
function isolatedSpike(sample: SyntheticSample): { cell: number; at: number } {
  for (const [cell, { spikes }] of sample.cells.entries()) {
    const at = spikes.find((s, k) => s > 12 && s - (spikes[k - 1] ?? -Infinity) > 12 && (spikes[k + 1] ?? Infinity) - s > 3);
    if (at !== undefined) return { cell, at };
  }
  throw new Error("no isolated spike in this sample");
}

describe("calcium transients", () => {
  it("rise fast and decay with the configured time constant, in the ground truth and in the frames", () => {
    for (const decay_s of [0.7, 0.5, 1]) {
      const sample = new SyntheticSample(30, 200, 3, { decay_s, rate_Hz: 0.05, motion: 0 });
      const { cell, at } = isolatedSpike(sample);
      const dff = (after: number) => sample.activity(cell, at + after);
      // The kernel (1 − e^(−t/0.05)) e^(−t/decay) peaks at 0.05 ln(1 + decay/0.05): within 0.2 s of the spike.
      const times = Array.from({ length: 400 }, (_, k) => k * 0.0025);
      const peak = times.reduce((best, t) => (dff(t) > dff(best) ? t : best));
      expect(peak).toBeCloseTo(0.05 * Math.log(1 + decay_s / 0.05), 2);
      expect(dff(-0.01)).toBeLessThan(1e-4);
      expect(dff(1) / dff(2)).toBeCloseTo(Math.exp(1 / decay_s), 3);

      // The frames show the same decay: the weighted mean of the cell's pixels above its resting level.
      const size = 128;
      const { pixel_mask } = sample.groundTruth(size, size, [at]).cells[cell]!;
      const fluorescence = (after: number) => {
        const renders = Array.from({ length: 16 }, () => sample.image(size, size, at + after, "green"));
        const total = pixel_mask.reduce((s, [, , w]) => s + w, 0);
        return mean(renders.map((image) => pixel_mask.reduce((s, [x, y, w]) => s + w * image[y * size + x]!, 0) / total));
      };
      const resting = fluorescence(-0.01);
      const ratio = (fluorescence(1) - resting) / (fluorescence(2) - resting);
      expect(Math.abs(ratio / Math.exp(1 / decay_s) - 1)).toBeLessThan(0.1);
    }
  });
});

describe("brightness", () => {
  const sample = new SyntheticSample(20, 0, 5, { motion: 0 });
  const brightness = (fluorophore: "green" | "red", conditions: Partial<Conditions["laser"]> & { signalScale?: number } = {}) => {
    const { signalScale = 1, ...laser } = conditions;
    return mean(sample.image(64, 64, 1, fluorophore, undefined, { laser: { ...NOMINAL.laser, ...laser }, signalScale }));
  };

  it("falls to the digitizer's offset with the shutter closed or the PMT at zero gain", () => {
    expect(brightness("green")).toBeGreaterThan(150);
    expect(brightness("green", { shutterOpen: false })).toBeCloseTo(100, 0);
    expect(brightness("red", { shutterOpen: false })).toBeCloseTo(100, 0);
    expect(brightness("green", { signalScale: 0 })).toBeCloseTo(100, 0);
  });

  it("follows the square of the laser power, the PMT gain, and the wavelength against each fluorophore's excitation", () => {
    const signal = (fluorophore: "green" | "red", conditions = {}) => brightness(fluorophore, conditions) - 100;
    expect(signal("green", { powerW: 0.75 }) / signal("green")).toBeCloseTo(0.25, 1);
    expect(signal("green", { signalScale: 2 }) / signal("green")).toBeCloseTo(2, 1);
    // GCaMP is excited best near 920 nm, tdTomato near 1050 nm.
    expect(signal("green", { wavelengthNm: 1040 }) / signal("green")).toBeLessThan(0.1);
    expect(signal("red", { wavelengthNm: 1040 }) / signal("red")).toBeGreaterThan(1.5);
  });

  it("keeps the red structural channel static while the green one changes", () => {
    // Only the background's slow drift (5 % over minutes) moves the red channel.
    const redAt = (t: number) => mean(sample.image(64, 64, t, "red"));
    expect(Math.abs(redAt(40) / redAt(1) - 1)).toBeLessThan(0.01);
    const greenAt = Array.from({ length: 40 }, (_, k) => mean(sample.image(64, 64, k, "green")));
    expect(Math.max(...greenAt) - Math.min(...greenAt)).toBeGreaterThan(2);
  });
});

describe("through the scanner simulator", () => {
  let source: ZmqFrameSource | undefined;
  afterEach(async () => {
    await source?.close();
  });

  it("darkens the frames after the laser's shutter closes, and after the PMT's gain goes to zero", async () => {
    source = new ZmqFrameSource({ address: "tcp://127.0.0.1:*", frame_shape: [64, 64], data_type: "uint16", channel_count: 1, plane_count: 1 });
    const frames: { counter: number; mean: number }[] = [];
    source.frames$.subscribe((f) => {
      frames.push({ counter: f.counter, mean: mean(f.data) });
      releaseFrame(f.data);
    });
    await source.connect();
    // Plain objects with the fields the laser and PMT simulators expose, read at every frame.
    const laser = { shutterOpen: true, powerW: 1.5, wavelengthNm: 920 };
    const pmt = { signalScale: 1 };
    const scanner = new ScannerSimulator({ address: source.endpoint!, geometry: { channels: 1, planes: 1, height: 64, width: 64, dtype: "uint16" }, laser, detectors: [pmt] });
    const running = scanner.run();
    const after = async (count: number, change: () => void) => {
      while (frames.length < count) await new Promise((r) => setTimeout(r, 5));
      change();
      return frames.at(-1)!.counter;
    };
    const closed = await after(50, () => (laser.shutterOpen = false));
    const reopened = await after(100, () => {
      laser.shutterOpen = true;
      pmt.signalScale = 0;
    });
    await after(150, () => scanner.stop());
    await running;

    // Frames already on their way when a setting changed keep the old brightness: skip a few either side.
    const between = (from: number, to: number) => mean(frames.filter((f) => f.counter > from + 5 && f.counter <= to).map((f) => f.mean));
    expect(between(-10, closed)).toBeGreaterThan(150);
    expect(between(closed, reopened)).toBeCloseTo(100, 0);
    expect(between(reopened, Infinity)).toBeCloseTo(100, 0);
  });
});

describe("ground truth", () => {
  it("exports masks, spikes, ΔF/F and motion as JSON that matches the frames", () => {
    const sample = new SyntheticSample(12, 0, 9);
    const size = 256;
    const times = [0, 225];
    const truth = sample.groundTruth(size, size, times);

    expect(JSON.parse(JSON.stringify(truth))).toEqual(truth);
    expect(truth.cells).toHaveLength(12);
    truth.cells.forEach((c, i) => {
      expect(c.dff).toEqual(times.map((t) => sample.activity(i, t)));
      expect(c.spikes_s.every((s) => s <= 225)).toBe(true);
      // The mask's heaviest pixel is the cell's centre.
      const [x, y] = c.pixel_mask.reduce((best, p) => (p[2] > best[2] ? p : best));
      expect(Math.abs(x + 0.5 - c.x * size)).toBeLessThanOrEqual(1);
      expect(Math.abs(y + 0.5 - c.y * size)).toBeLessThanOrEqual(1);
    });

    // The static red channel moves by exactly the exported shift between the two times.
    const [before, later] = times.map((t) => sample.image(size, size, t, "red"));
    const expected = [truth.motion_px[1]![0] - truth.motion_px[0]![0], truth.motion_px[1]![1] - truth.motion_px[0]![1]];
    expect(expected).not.toEqual([0, 0]);
    expect(bestShift(before!, later!, size, 4)).toEqual(expected);
  });
});

/** The whole-pixel shift [dx, dy] of b against a (within ±range) that correlates best. */
function bestShift(a: Float32Array, b: Float32Array, size: number, range: number): [number, number] {
  const ma = mean(a);
  const mb = mean(b);
  let best: [number, number] = [0, 0];
  let bestScore = -Infinity;
  for (let dy = -range; dy <= range; dy++) {
    for (let dx = -range; dx <= range; dx++) {
      let score = 0;
      for (let y = range; y < size - range; y++) for (let x = range; x < size - range; x++) score += (a[y * size + x]! - ma) * (b[(y + dy) * size + x + dx]! - mb);
      if (score > bestScore) [bestScore, best] = [score, [dx, dy]];
    }
  }
  return best;
}
