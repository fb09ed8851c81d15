// The online analysis' hot loops, in AssemblyScript compiled to WebAssembly SIMD (npm run build → dist/kernels.wasm):
// several pixels an instruction where plain JS pays for every typed-array access. Every argument that is a
// pointer is a byte offset in this module's memory, laid out by ../index.ts.

/** `bytes` of this module's memory, zeroed, from the runtime's own allocator (TLSF); release() gives them back. */
export function allocate(bytes: usize): usize {
  const at = heap.alloc(bytes);
  memory.fill(at, 0, bytes);
  return at;
}

export function release(at: usize): void {
  heap.free(at);
}

/**
 * Mean and maximum sums of a uint16 frame (row-major, `width` per row) moved back by whole pixels (sx, sy), edge
 * pixels standing in for those moved in from outside: sums (int32) += pixel, maxima (uint16) = max(maxima, pixel).
 */
export function sumMaxU16(frame: usize, sums: usize, maxima: usize, width: i32, height: i32, sx: i32, sy: i32): void {
  // x + sx within the frame for x in [lo, hi).
  const lo = min(width, max(0, -sx));
  const hi = max(lo, min(width, width - sx));
  for (let y = 0; y < height; y++) {
    const from = min(height - 1, max(0, y + sy)) * width;
    const row = y * width;
    let x = lo;
    for (; x + 8 <= hi; x += 8) {
      const v = v128.load(frame + (<usize>(from + sx + x) << 1));
      const m = maxima + (<usize>(row + x) << 1);
      v128.store(m, i16x8.max_u(v128.load(m), v));
      const s = sums + (<usize>(row + x) << 2);
      v128.store(s, i32x4.add(v128.load(s), i32x4.extend_low_i16x8_u(v)));
      v128.store(s, i32x4.add(v128.load(s, 16), i32x4.extend_high_i16x8_u(v)), 16);
    }
    for (; x < hi; x++) addPixel(sums, maxima, row + x, load<u16>(frame + (<usize>(from + sx + x) << 1)));
    const first = load<u16>(frame + (<usize>from << 1));
    for (let x = 0; x < lo; x++) addPixel(sums, maxima, row + x, first);
    const last = load<u16>(frame + (<usize>(from + width - 1) << 1));
    for (let x = hi; x < width; x++) addPixel(sums, maxima, row + x, last);
  }
}

// @ts-ignore: decorator
@inline function addPixel(sums: usize, maxima: usize, k: i32, v: u16): void {
  const m = maxima + (<usize>k << 1);
  if (v > load<u16>(m)) store<u16>(m, v);
  const s = sums + (<usize>k << 2);
  store<i32>(s, load<i32>(s) + <i32>v);
}

/**
 * Row y of a uint16 frame moved by whole pixels (sx, sy), edge pixels standing in for those from outside, less
 * its origin (float32, per pixel; taken from this row first when `first`), into `out` (float32) at x + 1.
 */
export function centreRowU16(frame: usize, origin: usize, out: usize, width: i32, height: i32, y: i32, sx: i32, sy: i32, first: bool): void {
  const from = min(height - 1, max(0, y + sy)) * width;
  const o = origin + (<usize>(y * width) << 2);
  // x + sx within the frame for x in [lo, hi).
  const lo = min(width, max(0, -sx));
  const hi = max(lo, min(width, width - sx));
  let x = 0;
  for (; x < lo; x++) centrePixel(o, out, x, <f32>load<u16>(frame + (<usize>from << 1)), first);
  for (; x + 4 <= hi; x += 4) {
    const v = f32x4.convert_i32x4_u(v128.load_ext<u16>(frame + (<usize>(from + sx + x) << 1)));
    const p = o + (<usize>x << 2);
    if (first) v128.store(p, v);
    v128.store(out + (<usize>x << 2), f32x4.sub(v, v128.load(p)), 4);
  }
  for (; x < hi; x++) centrePixel(o, out, x, <f32>load<u16>(frame + (<usize>(from + sx + x) << 1)), first);
  for (; x < width; x++) centrePixel(o, out, x, <f32>load<u16>(frame + (<usize>(from + width - 1) << 1)), first);
}

// @ts-ignore: decorator
@inline function centrePixel(origin: usize, out: usize, x: i32, v: f32, first: bool): void {
  const p = origin + (<usize>x << 2);
  if (first) store<f32>(p, v);
  store<f32>(out + (<usize>x << 2), v - load<f32>(p), 4);
}

/**
 * The correlation's sums of one row of pixels k0 … k0 + width − 1: `line` and `below` are that row and the next
 * (float32, pixel x at x + 1, a zero on either side), `sums` per block of 4 pixels 6 vectors of 4 — sum, sum of
 * squares, products with the right, lower, lower-right and lower-left neighbours.
 */
export function correlateRow(line: usize, below: usize, sums: usize, k0: i32, width: i32): void {
  let x = 0;
  // Pixels one at a time up to a block of 4, then a block an instruction.
  for (; x < width && ((k0 + x) & 3) != 0; x++) correlatePixel(line, below, sums, k0 + x, x);
  for (; x + 4 <= width; x += 4) {
    const p = line + (<usize>x << 2);
    const q = below + (<usize>x << 2);
    const a = v128.load(p, 4);
    const m = sums + (<usize>(k0 + x) * 24);
    v128.store(m, f32x4.add(v128.load(m), a));
    v128.store(m, f32x4.add(v128.load(m, 16), f32x4.mul(a, a)), 16);
    v128.store(m, f32x4.add(v128.load(m, 32), f32x4.mul(a, v128.load(p, 8))), 32);
    v128.store(m, f32x4.add(v128.load(m, 48), f32x4.mul(a, v128.load(q, 4))), 48);
    v128.store(m, f32x4.add(v128.load(m, 64), f32x4.mul(a, v128.load(q, 8))), 64);
    v128.store(m, f32x4.add(v128.load(m, 80), f32x4.mul(a, v128.load(q))), 80);
  }
  for (; x < width; x++) correlatePixel(line, below, sums, k0 + x, x);
}

// @ts-ignore: decorator
@inline function correlatePixel(line: usize, below: usize, sums: usize, k: i32, x: i32): void {
  const a = load<f32>(line + (<usize>x << 2), 4);
  const m = sums + (<usize>(k & ~3) * 24) + (<usize>(k & 3) << 2);
  store<f32>(m, load<f32>(m) + a);
  store<f32>(m, load<f32>(m, 16) + a * a, 16);
  store<f32>(m, load<f32>(m, 32) + a * load<f32>(line + (<usize>x << 2), 8), 32);
  store<f32>(m, load<f32>(m, 48) + a * load<f32>(below + (<usize>x << 2), 4), 48);
  store<f32>(m, load<f32>(m, 64) + a * load<f32>(below + (<usize>x << 2), 8), 64);
  store<f32>(m, load<f32>(m, 80) + a * load<f32>(below + (<usize>x << 2)), 80);
}

/**
 * Each ROI's weighted sum over a uint16 frame, its mask moved by whole pixels (sx, sy): runs r of pixels
 * consecutive in a row — ROI roi[r] (int32), first pixel at frame offset offset[r] (int32), weights (float32)
 * from[r] to from[r + 1] (int32) — into sums[roi] (float64, += weight × pixel). An ROI with inside[roi] = 0
 * (uint8: its box moved off the frame) takes only the pixels moved inside, and adds their weights to norm[roi] (float64).
 */
export function maskSumsU16(
  frame: usize, weights: usize, roi: usize, offset: usize, from: usize, runs: i32,
  inside: usize, sums: usize, norm: usize, width: i32, height: i32, sx: i32, sy: i32,
): void {
  const shift = sy * width + sx;
  for (let r = 0; r < runs; r++) {
    const i = load<i32>(roi + (<usize>r << 2));
    const at = load<i32>(offset + (<usize>r << 2));
    let k = load<i32>(from + (<usize>r << 2));
    let end = load<i32>(from + (<usize>r << 2), 4);
    // The frame offset of weight k is base + k.
    const base = at + shift - k;
    if (!load<u8>(inside + i)) {
      const y = at / width + sy;
      if (y < 0 || y >= height) continue;
      const x = (at % width) + sx;
      const first = k;
      k = max(first, first - x);
      end = min(end, first + width - x);
      let w: f64 = 0;
      for (let j = k; j < end; j++) w += <f64>load<f32>(weights + (<usize>j << 2));
      const n = norm + (<usize>i << 3);
      store<f64>(n, load<f64>(n) + w);
    }
    // Products in float64 are exact (24 × 16 bits); two pairs of lanes so that each addition need not wait for the last.
    let s0 = f64x2.splat(0);
    let s1 = f64x2.splat(0);
    for (; k + 4 <= end; k += 4) {
      const p = frame + (<usize>(base + k) << 1);
      const w = weights + (<usize>k << 2);
      s0 = f64x2.add(s0, f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(w)), f64x2.convert_low_i32x4_u(v128.load_ext<u16>(p))));
      s1 = f64x2.add(s1, f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(w, 8)), f64x2.convert_low_i32x4_u(v128.load_ext<u16>(p, 4))));
    }
    const s = f64x2.add(s0, s1);
    let sum = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
    for (; k < end; k++) sum += <f64>load<f32>(weights + (<usize>k << 2)) * <f64>load<u16>(frame + (<usize>(base + k) << 1));
    const t = sums + (<usize>i << 3);
    store<f64>(t, load<f64>(t) + sum);
  }
}

/**
 * The n × n window of a uint16 frame (row-major, `width` per row) from pixel (x0, y0), binned bin × bin and
 * tapered by `hann` (float64, n) along either axis, into `out` (float64, n × n, row-major): as MotionEstimator's
 * JS path computes it, to the bit.
 */
export function binTaperU16(frame: usize, hann: usize, out: usize, width: i32, x0: i32, y0: i32, bin: i32, n: i32): void {
  for (let y = 0; y < n; y++) {
    const ty = load<f64>(hann + (<usize>y << 3));
    const o = out + (<usize>(y * n) << 3);
    let x = 0;
    if (bin == 2) {
      // 2 × 2 (frames of 512 px and more): 4 binned pixels from 8 of each of two rows, summed in pairs.
      const a = frame + (<usize>((y0 + 2 * y) * width + x0) << 1);
      const b = a + (<usize>width << 1);
      const t = f64x2.splat(ty);
      for (; x + 4 <= n; x += 4) {
        const v = i32x4.add(i32x4.extadd_pairwise_i16x8_u(v128.load(a + (<usize>x << 2))), i32x4.extadd_pairwise_i16x8_u(v128.load(b + (<usize>x << 2))));
        const h = hann + (<usize>x << 3);
        const p = o + (<usize>x << 3);
        v128.store(p, f64x2.mul(f64x2.mul(f64x2.convert_low_i32x4_u(v), t), v128.load(h)));
        v128.store(p, f64x2.mul(f64x2.mul(f64x2.convert_low_i32x4_u(i32x4.shuffle(v, v, 2, 3, 0, 1)), t), v128.load(h, 16)), 16);
      }
    }
    for (; x < n; x++) {
      let v: u32 = 0;
      for (let j = 0; j < bin; j++) {
        const p = frame + (<usize>((y0 + y * bin + j) * width + x0 + x * bin) << 1);
        for (let i = 0; i < bin; i++) v += <u32>load<u16>(p + (<usize>i << 1));
      }
      store<f64>(o + (<usize>x << 3), <f64>v * ty * load<f64>(hann + (<usize>x << 3)));
    }
  }
}
