// A group's figures made ready to draw: the aggregate curve (IQM with its band, the mean beside
// it), each run's own curve, and the x axes a group's curves are read over.
import type { CurvePoint, Estimate, RunCurve, XAxis } from '../api/types';
import type { Line } from './bands';
import { formatCompact, formatDuration } from './format';

export const X_AXES: { value: XAxis; label: string }[] = [
  { value: 'episode', label: 'Episode' },
  { value: 'timestep', label: 'Timestep' },
  { value: 'time', label: 'Wall time' },
];

export function xAxisLabel(x: XAxis): string {
  return X_AXES.find((a) => a.value === x)?.label ?? x;
}

/** Tick labels of an x axis: durations for wall time (seconds since each run started). */
export function xTickFormat(x: XAxis): (v: number) => string {
  return x === 'time' ? (v) => formatDuration(v) : (v) => formatCompact(v);
}

export function parseXAxis(value: string | null): XAxis {
  return value === 'timestep' || value === 'time' ? value : 'episode';
}

const val = (e: Estimate | null | undefined) => e?.value ?? null;
const low = (e: Estimate | null | undefined) => e?.low ?? null;
const high = (e: Estimate | null | undefined) => e?.high ?? null;

/** The IQM line with its band, and (``withMean``) the mean as a dashed line, of one curve. */
export function curveLines(
  points: readonly CurvePoint[],
  color: string,
  label: string,
  { withMean = true }: { withMean?: boolean } = {},
): Line[] {
  const x = points.map((p) => p.x);
  const lines: Line[] = [
    {
      label: `${label}IQM`,
      color,
      x,
      y: points.map((p) => val(p.iqm)),
      band: {
        lower: points.map((p) => low(p.iqm)),
        upper: points.map((p) => high(p.iqm)),
        label: `${label}IQM 95% CI`,
      },
      width: 2.5,
    },
  ];
  if (withMean) {
    lines.push({ label: `${label}mean`, color, x, y: points.map((p) => val(p.mean)), width: 1.5, dash: [6, 4] });
  }
  return lines;
}

/** Each run's own curve, faint, named by the run. */
export function runLines(curves: readonly RunCurve[], names: Map<string, string>, color: string): Line[] {
  return curves.map((c) => ({
    label: names.get(c.run_id) ?? c.run_id.slice(0, 8),
    color,
    x: c.points.map((p) => p.x),
    y: c.points.map((p) => p.y),
    width: 1,
    alpha: 0.35,
  }));
}

export interface RowSection<R, G> {
  /** The group's id, or null for the runs in no group. */
  groupId: string | null;
  group: G | null;
  rows: R[];
}

/**
 * Rows under a header per group, the groups in the order their first row comes (so the list's
 * sort still reads top to bottom), the rows in no group last. ``groups`` names the groups;
 * a row whose group it does not know still gets its own section (headed by the id).
 */
export function sectionsByGroup<R, G>(
  rows: readonly R[],
  groupOf: (row: R) => string | null | undefined,
  groups: ReadonlyMap<string, G>,
): RowSection<R, G>[] {
  const sections = new Map<string, RowSection<R, G>>();
  const loose: R[] = [];
  for (const row of rows) {
    const id = groupOf(row);
    if (id === null || id === undefined || id === '') {
      loose.push(row);
      continue;
    }
    let section = sections.get(id);
    if (!section) {
      section = { groupId: id, group: groups.get(id) ?? null, rows: [] };
      sections.set(id, section);
    }
    section.rows.push(row);
  }
  const out = [...sections.values()];
  if (loose.length > 0) out.push({ groupId: null, group: null, rows: loose });
  return out;
}
