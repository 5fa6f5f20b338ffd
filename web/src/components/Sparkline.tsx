// A tiny inline SVG trend of a run's rewards for the runs list.
import type { Num } from '../lib/series';
import { extent } from '../lib/series';

export function Sparkline({ values, width = 96, height = 24 }: { values: Num[]; width?: number; height?: number }) {
  const range = extent(values);
  if (range === null || values.length < 2) return <span className="muted">—</span>;
  const [lo, hi] = range;
  const span = hi - lo || 1;
  const step = width / (values.length - 1);
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    const x = (i * step).toFixed(1);
    const y = (height - 2 - ((v - lo) / span) * (height - 4)).toFixed(1);
    d += `${pen ? 'L' : 'M'}${x},${y}`;
    pen = true;
  });
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-hidden="true">
      <path d={d} fill="none" stroke="#2563eb" strokeWidth="1.4" strokeLinejoin="round" />
    </svg>
  );
}
