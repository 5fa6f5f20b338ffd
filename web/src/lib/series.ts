// Chart series: points from the API made ready for uPlot (sorted, one y per x, gaps as null),
// trailing moving averages, overlays of several series, drawdowns.

export type Num = number | null;

export interface XY {
  x: number[];
  y: Num[];
}

function finiteOrNull(v: unknown): Num {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * One series from API points: sorted by x, one point per x (a downsampled bucket whose lowest
 * and highest episode are the same episode sends it twice), non-finite values as gaps (null).
 */
export function toXY<P>(points: readonly P[], x: (p: P) => number, y: (p: P) => unknown): XY {
  const pairs: [number, Num][] = [];
  for (const p of points) {
    const xv = x(p);
    if (typeof xv !== 'number' || !Number.isFinite(xv)) continue;
    pairs.push([xv, finiteOrNull(y(p))]);
  }
  let sorted = true;
  for (let i = 1; i < pairs.length; i++) {
    if (pairs[i]![0] < pairs[i - 1]![0]) {
      sorted = false;
      break;
    }
  }
  if (!sorted) pairs.sort((a, b) => a[0] - b[0]);
  const out: XY = { x: [], y: [] };
  for (const [xv, yv] of pairs) {
    const last = out.x.length - 1;
    if (last >= 0 && out.x[last] === xv) {
      if (out.y[last] === null) out.y[last] = yv;
      continue;
    }
    out.x.push(xv);
    out.y.push(yv);
  }
  return out;
}

/**
 * Trailing moving average over a window of ``window`` x units (episodes): at each point, the
 * mean of the known values whose x lies in (x - window, x]. Working in x units rather than in
 * points keeps the average honest on a downsampled series, whose points are not evenly spaced.
 */
export function movingAverage(x: readonly number[], y: readonly Num[], window: number): Num[] {
  const out: Num[] = new Array<Num>(x.length).fill(null);
  if (window <= 0) return out;
  let lo = 0;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    const v = y[i];
    if (v !== null && v !== undefined) {
      sum += v;
      count += 1;
    }
    const xi = x[i]!;
    while (lo <= i && x[lo]! <= xi - window) {
      const old = y[lo];
      if (old !== null && old !== undefined) {
        sum -= old;
        count -= 1;
      }
      lo += 1;
    }
    out[i] = count > 0 ? sum / count : null;
  }
  return out;
}

/**
 * The moving-average window (in episodes) for a run: 100 episodes once there are enough,
 * fewer for short runs, and at least ten buckets wide on a downsampled series.
 */
export function autoWindow(totalEpisodes: number, points: number, sampled: boolean): number {
  let window = totalEpisodes >= 1000 ? 100 : Math.max(5, Math.round(totalEpisodes / 20));
  if (sampled && points > 1) {
    // A downsampled bucket keeps two points (its lowest and highest reward).
    const bucket = totalEpisodes / Math.max(1, points / 2);
    window = Math.max(window, Math.round(bucket * 10));
  }
  return window;
}

/**
 * Several series on one x axis: the sorted union of their x values, each series' values at
 * those x (null where it has none). uPlot needs this shape to overlay series.
 */
export function joinSeries(series: readonly XY[]): { x: number[]; ys: Num[][] } {
  const all = new Set<number>();
  for (const s of series) for (const xv of s.x) all.add(xv);
  const x = [...all].sort((a, b) => a - b);
  const position = new Map<number, number>();
  x.forEach((xv, i) => position.set(xv, i));
  const ys = series.map((s) => {
    const out: Num[] = new Array<Num>(x.length).fill(null);
    s.x.forEach((xv, i) => {
      out[position.get(xv)!] = s.y[i] ?? null;
    });
    return out;
  });
  return { x, ys };
}

/**
 * Drawdown of an equity curve: at each point, (value − running peak) / running peak, so 0 at a
 * new high and −0.25 a quarter below it. Unknown values stay unknown; the peak carries over.
 */
export function drawdown(values: readonly Num[]): Num[] {
  let peak: number | null = null;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    if (peak === null || v > peak) peak = v;
    if (peak === 0) return 0;
    return (v - peak) / Math.abs(peak);
  });
}

/** The largest drawdown as a positive fraction (0.25 for −25%), or null without values. */
export function maxDrawdown(values: readonly Num[]): number | null {
  let worst: number | null = null;
  for (const d of drawdown(values)) {
    if (d === null) continue;
    if (worst === null || d < worst) worst = d;
  }
  return worst === null ? null : -worst || 0;
}

/** Lowest and highest known value, or null when there is none. */
export function extent(values: readonly Num[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo === Infinity ? null : [lo, hi];
}

/** Number of known (non-null) values. */
export function countKnown(values: readonly Num[]): number {
  let n = 0;
  for (const v of values) if (v !== null) n += 1;
  return n;
}
