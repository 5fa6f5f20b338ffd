// Parallel coordinates: one vertical axis per parameter and one for the objective, each trial a
// polyline across them. Here: the axes' scales (numeric linear or log, or categorical) and each
// trial's positions on them, in [0, 1] from the bottom of an axis to its top.

export type ParamValue = number | string | boolean | null | undefined;

export interface Axis {
  name: string;
  kind: 'linear' | 'log' | 'category';
  /** Numeric axes: lowest and highest value; categorical: the categories, bottom to top. */
  min: number;
  max: number;
  categories: string[];
  /** Tick labels with their positions in [0, 1]. */
  ticks: { at: number; label: string }[];
}

function isFiniteNumber(v: ParamValue): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function tickLabel(v: number): string {
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return v.toExponential(1).replace('.0e', 'e');
  return String(Number(v.toPrecision(3)));
}

/** What the search space says of a parameter (Optuna's distribution), when it is known. */
export interface AxisSpec {
  type: 'float' | 'int' | 'categorical';
  log: boolean;
  low: number | null;
  high: number | null;
  choices: ParamValue[] | null;
}

/**
 * The scale of an axis over ``values``. With ``spec`` (the search space): its range (widened to
 * any value outside it), its log scale, its choices in their declared order. Without: all
 * numbers (ignoring gaps) make a linear axis, or a log one when they are all positive and span
 * three orders of magnitude or more (learning rates); anything else, categories in sorted order.
 */
export function makeAxis(name: string, values: readonly ParamValue[], spec?: AxisSpec): Axis {
  const known = values.filter((v) => v !== null && v !== undefined);
  const numeric = spec ? spec.type !== 'categorical' : known.length > 0 && known.every(isFiniteNumber);
  if (numeric) {
    const nums = known.filter(isFiniteNumber);
    for (const bound of [spec?.low, spec?.high]) if (isFiniteNumber(bound)) nums.push(bound);
    const min = nums.length > 0 ? Math.min(...nums) : 0;
    const max = nums.length > 0 ? Math.max(...nums) : 0;
    const log = min > 0 && (spec ? spec.log : Math.log10(max / min) >= 3 - 1e-9);
    const axis: Axis = { name, kind: log ? 'log' : 'linear', min, max, categories: [], ticks: [] };
    if (min === max) {
      axis.ticks = [{ at: 0.5, label: tickLabel(min) }];
    } else if (log) {
      for (let e = Math.ceil(Math.log10(min)); e <= Math.floor(Math.log10(max)); e++) {
        const v = 10 ** e;
        axis.ticks.push({ at: position(axis, v)!, label: tickLabel(v) });
      }
      if (axis.ticks.length < 2) {
        axis.ticks = [
          { at: 0, label: tickLabel(min) },
          { at: 1, label: tickLabel(max) },
        ];
      }
    } else {
      for (let k = 0; k <= 4; k++) {
        const v = min + ((max - min) * k) / 4;
        axis.ticks.push({ at: k / 4, label: tickLabel(v) });
      }
    }
    return axis;
  }
  const declared = (spec?.choices ?? []).map((c) => String(c));
  const seen = [...new Set(known.map((v) => String(v)))].filter((c) => !declared.includes(c)).sort();
  const categories = [...declared, ...seen];
  const axis: Axis = { name, kind: 'category', min: 0, max: categories.length - 1, categories, ticks: [] };
  axis.ticks = categories.map((c) => ({ at: position(axis, c)!, label: c }));
  return axis;
}

/** Where ``value`` lies on ``axis``, 0 (bottom) to 1 (top); null for a gap or a value the axis
 * does not hold. A one-valued axis puts its value in the middle. */
export function position(axis: Axis, value: ParamValue): number | null {
  if (value === null || value === undefined) return null;
  if (axis.kind === 'category') {
    const i = axis.categories.indexOf(String(value));
    if (i < 0) return null;
    return axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1);
  }
  if (!isFiniteNumber(value)) return null;
  if (axis.max === axis.min) return 0.5;
  if (axis.kind === 'log') {
    if (value <= 0) return null;
    return (Math.log(value) - Math.log(axis.min)) / (Math.log(axis.max) - Math.log(axis.min));
  }
  return (value - axis.min) / (axis.max - axis.min);
}

export interface ParallelTrial {
  number: number;
  params: Record<string, ParamValue>;
  value: number | null;
}

export interface ParallelLayout {
  axes: Axis[];
  /** Each trial's positions, one per axis (the objective last); null where it has no value. */
  lines: { number: number; value: number | null; at: (number | null)[] }[];
}

/** The axes (``params`` in order, then the objective) and each trial's line across them;
 * ``specs`` are the parameters' search spaces, by name, where known. */
export function parallelLayout(
  trials: readonly ParallelTrial[],
  params: readonly string[],
  objective: string,
  specs: ReadonlyMap<string, AxisSpec> = new Map(),
): ParallelLayout {
  const axes = params.map((p) => makeAxis(p, trials.map((t) => t.params[p]), specs.get(p)));
  axes.push(makeAxis(objective, trials.map((t) => t.value)));
  const lines = trials.map((t) => ({
    number: t.number,
    value: t.value,
    at: [...params.map((p, i) => position(axes[i]!, t.params[p])), position(axes[axes.length - 1]!, t.value)],
  }));
  return { axes, lines };
}
