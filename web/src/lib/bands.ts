// Curves with confidence bands for uPlot: several lines on one x axis, some carrying a shaded
// interval (lower to upper) drawn under them. One place builds the aligned data, the series and
// the bands, for the group page, the group comparison and the performance profiles.
import type uPlot from 'uplot';
import { joinSeries, type Num, type XY } from './series';

export interface Line {
  label: string;
  color: string;
  x: readonly number[];
  y: readonly Num[];
  /** The interval drawn as a band under the line, at the same x. */
  band?: { lower: readonly Num[]; upper: readonly Num[]; label?: string };
  width?: number;
  dash?: number[];
  /** Stepped (a performance profile, a best-so-far), else straight segments. */
  stepped?: boolean;
  /** Points only, no line (trial values). */
  pointsOnly?: boolean;
  /** uPlot's alpha for the line (the many per-run curves are drawn faint). */
  alpha?: number;
}

export interface BandChart {
  data: uPlot.AlignedData;
  series: uPlot.Series[];
  bands: uPlot.Band[];
}

/** A translucent version of a #rrggbb color. */
export function fade(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) return color;
  return `rgba(${parseInt(m[1]!, 16)}, ${parseInt(m[2]!, 16)}, ${parseInt(m[3]!, 16)}, ${alpha})`;
}

const asXY = (x: readonly number[], y: readonly Num[]): XY => ({ x: [...x], y: [...y] });

/**
 * The data, series and bands of ``lines``: for each line its series, then (when it has a band)
 * the band's upper and lower edges as faint series with the area between them filled. Series
 * indices count the x values as 0, as uPlot's bands do.
 */
export function bandChart(lines: readonly Line[], stepped: (align: 1 | -1) => uPlot.Series.PathBuilder): BandChart {
  const columns: XY[] = [];
  const series: uPlot.Series[] = [];
  const bands: uPlot.Band[] = [];
  for (const line of lines) {
    columns.push(asXY(line.x, line.y));
    const paths = line.stepped ? stepped(1) : line.pointsOnly ? () => null : undefined;
    series.push({
      label: line.label,
      stroke: line.alpha !== undefined ? fade(line.color, line.alpha) : line.color,
      width: line.width ?? 2,
      spanGaps: !line.pointsOnly,
      points: line.pointsOnly ? { show: true, size: 6, fill: line.color, stroke: line.color } : { show: false },
      ...(line.dash ? { dash: line.dash } : {}),
      ...(paths ? { paths } : {}),
    });
    if (line.band) {
      const label = line.band.label ?? `${line.label} CI`;
      const edge = (which: string): uPlot.Series => ({
        label: `${label} ${which}`,
        stroke: fade(line.color, 0.35),
        width: 1,
        spanGaps: true,
        points: { show: false },
        ...(line.stepped ? { paths: stepped(1) } : {}),
      });
      columns.push(asXY(line.x, line.band.upper));
      series.push(edge('upper'));
      columns.push(asXY(line.x, line.band.lower));
      series.push(edge('lower'));
      const upper = columns.length - 1; // 1-based with x at 0: the upper edge
      bands.push({ series: [upper, upper + 1], fill: fade(line.color, 0.18) });
    }
  }
  const joined = joinSeries(columns);
  return { data: [joined.x, ...joined.ys] as uPlot.AlignedData, series, bands };
}
