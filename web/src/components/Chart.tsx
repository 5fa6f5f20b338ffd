// A uPlot chart (canvas: fast on long series; drag to zoom, double-click to reset). The
// container tells tests and the benchmark what it drew: data-points (x values drawn),
// data-drawn="true" once drawn, data-series (lines), data-bands (shaded bands drawn, e.g.
// confidence intervals), and a performance mark `chart-drawn:<name>` per draw of new data.
import { useEffect, useLayoutEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatCompact, formatNumber } from '../lib/format';

export interface ChartProps {
  /** Names the chart in data-chart and in its performance mark. */
  name: string;
  data: uPlot.AlignedData;
  series: uPlot.Series[];
  height?: number;
  xLabel?: string;
  yLabel?: string;
  /** Formats y tick labels (compact numbers by default). */
  yTick?: (v: number) => string;
  /** Formats x tick labels (integers by default). */
  xTick?: (v: number) => string;
  /** Cursor sync group of charts sharing the x axis. */
  syncKey?: string;
  /** Extra scales (e.g. a fixed range), merged into the defaults. */
  scales?: uPlot.Scales;
  /** A draw hook on top of the series (trade markers). */
  onDraw?: (u: uPlot) => void;
  /** Shaded areas between two series (indices into ``data``, the x values being 0), drawn
   * under the lines: a confidence interval's upper and lower edges, say. */
  bands?: uPlot.Band[];
  /** Hides the legend (charts whose series are many and named elsewhere). */
  legend?: boolean;
  /** Shown instead of the plot when there are no points. */
  empty?: string;
  /** The data is still on its way: no points is not "drawn" yet. */
  loading?: boolean;
}

const AXIS_STROKE = '#64748b';
const GRID = { stroke: '#e2e8f0', width: 1 };
const TICKS = { stroke: '#cbd5e1', width: 1, size: 4 };

function axisSize(u: uPlot, values: string[] | null, axisIdx: number, cycleNum: number): number {
  const axis = u.axes[axisIdx]!;
  if (cycleNum > 1) return (axis as { _size?: number })._size ?? 50;
  const longest = (values ?? []).reduce((m, v) => Math.max(m, v.length), 0);
  return Math.max(40, Math.ceil(longest * 7 + 18));
}

export function Chart(props: ChartProps) {
  const { name, data, series, height = 240, syncKey, empty = 'No data yet', loading = false } = props;
  const host = useRef<HTMLDivElement>(null);
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const pendingMark = useRef(false);
  const zoomed = useRef(false);
  const onDraw = useRef(props.onDraw);
  onDraw.current = props.onDraw;
  const points = data[0]?.length ?? 0;

  const markDrawn = () => {
    const el = container.current;
    if (!el || !pendingMark.current) return;
    pendingMark.current = false;
    el.dataset.drawn = 'true';
    performance.mark(`chart-drawn:${name}`);
  };

  // The plot's structure (series, labels, formats): rebuilt when it changes.
  const structure = JSON.stringify([
    series.map((s) => [s.label, s.stroke, s.scale, s.show]),
    props.xLabel,
    props.yLabel,
    height,
    syncKey,
    props.scales,
    props.bands?.map((b) => [b.series, b.fill]),
    props.legend,
  ]);
  const latestData = useRef(data);
  latestData.current = data;

  // A layout effect: the plot is built (and drawn, in the microtask after) before the browser
  // paints, rather than a frame or a long passive-effect flush later.
  useLayoutEffect(() => {
    const el = host.current;
    if (!el || points === 0) return undefined;
    const yTick = props.yTick ?? ((v: number) => formatCompact(v));
    const xTick = props.xTick ?? ((v: number) => formatCompact(v));
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      series: [
        { label: props.xLabel ?? 'x', value: (_u, v) => (v == null ? '—' : formatNumber(v, 2)) },
        ...series.map((s) => ({
          value: (_u: uPlot, v: number | null) => (v == null ? '—' : formatNumber(v, 3)),
          ...s,
        })),
      ],
      scales: { x: { time: false }, ...props.scales },
      ...(props.bands ? { bands: props.bands } : {}),
      axes: [
        {
          stroke: AXIS_STROKE,
          grid: GRID,
          ticks: TICKS,
          label: props.xLabel,
          labelSize: 16,
          size: 30,
          values: (_u, splits) => splits.map(xTick),
          font: '11px system-ui, sans-serif',
          labelFont: '12px system-ui, sans-serif',
        },
        {
          stroke: AXIS_STROKE,
          grid: GRID,
          ticks: TICKS,
          label: props.yLabel,
          labelSize: 18,
          values: (_u, splits) => splits.map(yTick),
          size: axisSize,
          font: '11px system-ui, sans-serif',
          labelFont: '12px system-ui, sans-serif',
        },
      ],
      cursor: {
        drag: { x: true, y: false, setScale: true },
        ...(syncKey ? { sync: { key: syncKey } } : {}),
      },
      legend: { live: true, show: props.legend ?? true },
      hooks: {
        draw: [
          (u) => {
            onDraw.current?.(u);
            markDrawn();
          },
        ],
        setSelect: [
          (u) => {
            if (u.select.width > 0) zoomed.current = true;
          },
        ],
      },
    };
    pendingMark.current = true;
    if (container.current) container.current.dataset.drawn = 'false';
    const u = new uPlot(opts, latestData.current, el);
    plot.current = u;
    const unzoom = () => {
      zoomed.current = false;
    };
    u.over.addEventListener('dblclick', unzoom);
    const resize = new ResizeObserver(() => {
      const width = Math.max(200, el.clientWidth);
      if (Math.abs(width - u.width) > 1) u.setSize({ width, height });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.over.removeEventListener('dblclick', unzoom);
      u.destroy();
      plot.current = null;
    };
    // Rebuilt when the structure changes only; new data goes through setData below.
  }, [structure, points === 0]);

  useLayoutEffect(() => {
    const u = plot.current;
    if (!u) return;
    if (u.data === data) return;
    pendingMark.current = true;
    if (container.current) container.current.dataset.drawn = 'false';
    u.setData(data, !zoomed.current);
  }, [data]);

  // An empty chart is drawn once its (empty) data has arrived.
  useEffect(() => {
    if (points === 0 && !loading && container.current?.dataset.drawn !== 'true') {
      pendingMark.current = true;
      markDrawn();
    } else if (points === 0 && loading && container.current) {
      container.current.dataset.drawn = 'false';
    }
  }, [points, loading, data]);

  return (
    <div
      ref={container}
      className="chart"
      data-chart={name}
      data-points={points}
      data-bands={points === 0 ? 0 : (props.bands?.length ?? 0)}
      data-series={series.length}
      data-testid={`chart-${name}`}
    >
      {points === 0 ? (
        <div className="chart-empty" style={{ height }}>
          {loading ? 'Loading…' : empty}
        </div>
      ) : (
        <div ref={host} />
      )}
    </div>
  );
}

export const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#db2777', '#0891b2', '#4b5563'];

export { fade } from '../lib/bands';

/** uPlot's stepped line (performance profiles, a best-so-far): for lib/bands' ``bandChart``. */
export const steppedPath = (align: 1 | -1): uPlot.Series.PathBuilder => uPlot.paths.stepped!({ align });
