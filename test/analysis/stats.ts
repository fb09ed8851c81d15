// Statistics the analysis tests compare with.

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Pearson correlation of two equally long series; pairs with a NaN are left out. */
export function pearson(a: readonly number[], b: readonly number[]): number {
  const pairs = a.map((v, i) => [v, b[i]!] as const).filter(([x, y]) => !Number.isNaN(x) && !Number.isNaN(y));
  const n = pairs.length;
  const ma = pairs.reduce((s, [x]) => s + x, 0) / n;
  const mb = pairs.reduce((s, [, y]) => s + y, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (const [x, y] of pairs) {
    sab += (x - ma) * (y - mb);
    saa += (x - ma) ** 2;
    sbb += (y - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * The `count` highest local maxima of an image given [x][y] (data[x · height + y]) or, with `layout` "rows", as
 * the frames' rows (data[y · width + x]), at least `apart` px from each other (a greedy non-maximum
 * suppression), as [x, y].
 */
export function localMaxima(image: Float32Array, width: number, height: number, count: number, apart: number, layout: "xy" | "rows" = "xy"): [number, number][] {
  const order = Array.from(image.keys()).sort((a, b) => image[b]! - image[a]!);
  const found: [number, number][] = [];
  for (const k of order) {
    const [x, y] = layout === "xy" ? [Math.floor(k / height), k % height] : [k % width, Math.floor(k / width)];
    if (found.every(([fx, fy]) => Math.hypot(fx - x, fy - y) >= apart)) found.push([x, y]);
    if (found.length === count) break;
  }
  return found;
}
