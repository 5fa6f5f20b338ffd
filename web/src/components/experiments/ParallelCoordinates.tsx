// Parallel coordinates (SVG): one vertical axis per parameter and one for the objective, each
// trial a polyline across them, coloured by its objective value (darker is better); the best
// trial drawn on top in the accent colour; a trial without a value (pruned, failed, running)
// grey and dashed, ending at its last known axis. Hovering a line names its trial.
import { useLayoutEffect, useMemo, useRef, useState } from 'react';
import { formatNumber } from '../../lib/format';
import { type AxisSpec, parallelLayout, type ParallelTrial } from '../../lib/parallel';

// Drawn at the container's width in pixels (not scaled from a viewBox), so that labels keep
// their size whatever the width.
const HEIGHT = 320;
const MIN_WIDTH = 360;
const PAD = { top: 30, bottom: 24, left: 70, right: 60 };
const BEST = '#dc2626';

function shade(t: number): string {
  // Light blue (worst) to dark blue (best).
  const from = [191, 219, 254];
  const to = [30, 64, 175];
  const c = from.map((f, i) => Math.round(f + (to[i]! - f) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** Runs of consecutive known points: a line breaks where a trial has no value on an axis. */
function segments(points: ([number, number] | null)[]): [number, number][][] {
  const out: [number, number][][] = [];
  let current: [number, number][] = [];
  for (const p of points) {
    if (p === null) {
      if (current.length > 0) out.push(current);
      current = [];
    } else {
      current.push(p);
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function ParallelCoordinates({
  trials,
  params,
  objective,
  direction,
  bestNumber,
  specs,
}: {
  trials: readonly ParallelTrial[];
  params: readonly string[];
  objective: string;
  direction: 'maximize' | 'minimize';
  bestNumber: number | null;
  /** The parameters' search spaces, by name. */
  specs?: ReadonlyMap<string, AxisSpec>;
}) {
  const [hover, setHover] = useState<number | null>(null);
  const host = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(960);
  useLayoutEffect(() => {
    const el = host.current;
    if (!el) return undefined;
    const measure = () => setWidth(Math.max(MIN_WIDTH, Math.floor(el.clientWidth)));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const layout = useMemo(
    () => parallelLayout(trials, params, objective, specs),
    [trials, params, objective, specs],
  );
  const n = layout.axes.length;
  const xAt = (i: number) => PAD.left + (n === 1 ? 0 : ((width - PAD.left - PAD.right) * i) / (n - 1));
  const yAt = (t: number) => PAD.top + (1 - t) * (HEIGHT - PAD.top - PAD.bottom);
  const objectiveAxis = layout.axes[n - 1]!;
  const rank = (value: number | null) => {
    if (value === null || objectiveAxis.kind === 'category' || objectiveAxis.max === objectiveAxis.min) return 1;
    const t = (value - objectiveAxis.min) / (objectiveAxis.max - objectiveAxis.min);
    return direction === 'maximize' ? t : 1 - t;
  };
  // Worse lines first, so the better ones (and the best last of all) lie on top.
  const ordered = [...layout.lines].sort((a, b) => {
    if (a.number === bestNumber) return 1;
    if (b.number === bestNumber) return -1;
    if (a.value === null || b.value === null) return a.value === null ? -1 : 1;
    return rank(a.value) - rank(b.value);
  });
  const hovered = layout.lines.find((l) => l.number === hover);

  return (
    <div
      ref={host}
      className="parallel"
      data-testid="parallel-coordinates"
      data-lines={layout.lines.length}
      data-axes={n}
    >
      <svg width={width} height={HEIGHT} role="img" aria-label="Parallel coordinates of the trials">
        {ordered.map((line) => {
          const best = line.number === bestNumber;
          const known = line.value !== null;
          const stroke = best ? BEST : known ? shade(rank(line.value)) : '#94a3b8';
          const pts = line.at.map((t, i) => (t === null ? null : ([xAt(i), yAt(t)] as [number, number])));
          return (
            <g
              key={line.number}
              data-trial={line.number}
              data-best={best ? 'true' : undefined}
              className="parallel-line"
              onMouseEnter={() => setHover(line.number)}
              onMouseLeave={() => setHover(null)}
            >
              {segments(pts).map((seg, k) => (
                <polyline
                  key={k}
                  points={seg.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}
                  fill="none"
                  stroke={stroke}
                  strokeWidth={best || hover === line.number ? 3 : 1.5}
                  strokeDasharray={known ? undefined : '4 3'}
                  strokeOpacity={hover !== null && hover !== line.number ? 0.35 : 0.9}
                />
              ))}
              <title>{`Trial ${line.number}: ${known ? formatNumber(line.value, 4) : 'no value'}`}</title>
            </g>
          );
        })}
        {layout.axes.map((axis, i) => (
          <g key={axis.name} className="parallel-axis" data-axis={axis.name}>
            <line x1={xAt(i)} x2={xAt(i)} y1={yAt(0)} y2={yAt(1)} stroke="#334155" strokeWidth={1} />
            {axis.ticks.map((tick) => (
              <g key={`${tick.label}@${tick.at}`}>
                <line x1={xAt(i) - 3} x2={xAt(i) + 3} y1={yAt(tick.at)} y2={yAt(tick.at)} stroke="#334155" />
                <text
                  x={xAt(i) + (i === n - 1 ? 6 : -6)}
                  y={yAt(tick.at) + 3}
                  textAnchor={i === n - 1 ? 'start' : 'end'}
                  fontSize={11}
                  fill="#475569"
                >
                  {tick.label}
                </text>
              </g>
            ))}
            <text
              x={i === 0 ? 4 : i === n - 1 && n > 1 ? width - 4 : xAt(i)}
              y={PAD.top - 14}
              textAnchor={i === 0 ? 'start' : i === n - 1 && n > 1 ? 'end' : 'middle'}
              fontSize={12}
              fontWeight={600}
              fill="#0f172a"
            >
              {axis.name}
              {axis.kind === 'log' ? ' (log)' : ''}
            </text>
          </g>
        ))}
      </svg>
      <div className="muted small parallel-foot">
        {hovered
          ? `Trial ${hovered.number}: ${hovered.value === null ? 'no value' : formatNumber(hovered.value, 4)}`
          : `${layout.lines.length} trials · darker is better · the best trial in red · dashed: no value`}
      </div>
    </div>
  );
}
