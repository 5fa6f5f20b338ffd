// A run's charts: episode reward with its moving average, rolling win rate, episode length, and
// any training metric picked from the run's metric keys. The episode charts share a cursor.
import { useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { api } from '../../api/routes';
import type { Checkpoint, Evaluation, MetricsResponse, RunMetrics } from '../../api/types';
import { useApi } from '../../hooks/useApi';
import { formatCompact, formatInt, formatPercent } from '../../lib/format';
import { evaluationCurve } from '../../lib/evaluations';
import { pickDefaultMetric } from '../../lib/metrics';
import { autoWindow, movingAverage, toXY } from '../../lib/series';
import { Chart, fade, PALETTE } from '../Chart';

const BLUE = PALETTE[0]!;
const GREEN = PALETTE[2]!;
const AMBER = PALETTE[3]!;
const VIOLET = PALETTE[4]!;
const WINDOWS = [10, 100, 1000, 10000];

function rawSeries(label: string, color: string): uPlot.Series {
  return { label, stroke: fade(color, 0.45), width: 1, points: { show: false } };
}

function avgSeries(label: string, color: string): uPlot.Series {
  return { label, stroke: color, width: 2, points: { show: false } };
}

export function SampledNote({ metrics }: { metrics: RunMetrics }) {
  if (!metrics.sampled) return null;
  return (
    <span className="muted small" data-testid="sampled-note">
      {formatInt(metrics.episodes.length)} points for {formatInt(metrics.total)} episodes (each bucket keeps its lowest
      and highest reward)
    </span>
  );
}

export function RewardChart({ metrics, runId }: { metrics: RunMetrics; runId: string }) {
  const [choice, setChoice] = useState<number | 'auto'>('auto');
  const { data, window } = useMemo(() => {
    const xy = toXY(
      metrics.episodes,
      (p) => p.episode,
      (p) => p.total_reward,
    );
    const w = choice === 'auto' ? autoWindow(metrics.total, xy.x.length, metrics.sampled) : choice;
    return { data: [xy.x, xy.y, movingAverage(xy.x, xy.y, w)] as uPlot.AlignedData, window: w };
  }, [metrics, choice]);
  return (
    <div className="chart-block">
      <div className="chart-head">
        <h3>Episode reward</h3>
        <label className="muted small">
          Moving average{' '}
          <select
            className="input input-small"
            aria-label="Moving average window"
            value={String(choice)}
            onChange={(e) => setChoice(e.target.value === 'auto' ? 'auto' : Number(e.target.value))}
          >
            <option value="auto">auto ({formatInt(window)})</option>
            {WINDOWS.map((w) => (
              <option key={w} value={w}>
                {formatInt(w)} episodes
              </option>
            ))}
          </select>
        </label>
      </div>
      <Chart
        name="reward"
        data={data}
        height={280}
        xLabel="Episode"
        yLabel="Reward"
        syncKey={`episodes-${runId}`}
        series={[rawSeries('Reward', BLUE), avgSeries(`Moving average (${formatInt(window)})`, BLUE)]}
        empty="No finished episodes yet"
      />
      <div className="chart-foot">
        <SampledNote metrics={metrics} />
        <span className="muted small">Drag to zoom · double-click to reset</span>
      </div>
    </div>
  );
}

export function WinRateChart({ metrics, runId }: { metrics: RunMetrics; runId: string }) {
  const data = useMemo(() => {
    const xy = toXY(
      metrics.rolling_win_rate,
      (p) => p.episode,
      (p) => p.win_rate,
    );
    return [xy.x, xy.y] as uPlot.AlignedData;
  }, [metrics]);
  return (
    <div className="chart-block">
      <div className="chart-head">
        <h3>Rolling win rate</h3>
        <span className="muted small">last 100 episodes with a result</span>
      </div>
      <Chart
        name="win-rate"
        data={data}
        xLabel="Episode"
        yLabel="Win rate"
        yTick={(v) => formatPercent(v, 0)}
        scales={{ y: { range: [0, 1] } }}
        syncKey={`episodes-${runId}`}
        series={[
          {
            label: 'Win rate',
            stroke: GREEN,
            width: 2,
            fill: fade(GREEN, 0.08),
            points: { show: false },
            value: (_u, v) => formatPercent(v),
          },
        ]}
        empty="The environment reports no wins"
      />
    </div>
  );
}

export function LengthChart({ metrics, runId }: { metrics: RunMetrics; runId: string }) {
  const data = useMemo(() => {
    const xy = toXY(
      metrics.episodes,
      (p) => p.episode,
      (p) => p.steps,
    );
    const w = autoWindow(metrics.total, xy.x.length, metrics.sampled);
    return [xy.x, xy.y, movingAverage(xy.x, xy.y, w)] as uPlot.AlignedData;
  }, [metrics]);
  return (
    <div className="chart-block">
      <div className="chart-head">
        <h3>Episode length</h3>
        <span className="muted small">steps</span>
      </div>
      <Chart
        name="length"
        data={data}
        xLabel="Episode"
        yLabel="Steps"
        syncKey={`episodes-${runId}`}
        series={[rawSeries('Steps', AMBER), avgSeries('Moving average', AMBER)]}
        empty="No finished episodes yet"
      />
    </div>
  );
}

export function MetricChart({ runId, refresh }: { runId: string; refresh: number }) {
  const keys = useApi<MetricsResponse>(api.metrics(runId, []));
  const [picked, setPicked] = useState<string | null>(null);
  const available = keys.data?.keys ?? [];
  const key = picked ?? pickDefaultMetric(available);
  const seriesUrl = key ? api.metrics(runId, [key], 2000) : null;
  const series = useApi<MetricsResponse>(seriesUrl);
  const fresh = series.loadedUrl === seriesUrl;

  useEffect(() => {
    if (refresh === 0) return;
    keys.reload();
    series.reload();
  }, [refresh]);

  const current = key && fresh ? series.data?.series[key] : undefined;
  const data = useMemo(() => {
    const xy = toXY(
      current?.points ?? [],
      (p) => p.timestep,
      (p) => p.value,
    );
    return [xy.x, xy.y] as uPlot.AlignedData;
  }, [current]);

  return (
    <div className="chart-block chart-wide">
      <div className="chart-head">
        <h3>Training metric</h3>
        {available.length > 0 && (
          <select
            className="input input-small"
            aria-label="Training metric"
            data-testid="metric-picker"
            value={key ?? ''}
            onChange={(e) => setPicked(e.target.value)}
          >
            {available.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        )}
      </div>
      {keys.error ? (
        <div className="chart-empty">Could not load the metrics: {keys.error.detail}</div>
      ) : keys.data === null ? (
        <div className="chart-empty">Loading metrics…</div>
      ) : available.length === 0 ? (
        <div className="chart-empty">This run logged no training metrics</div>
      ) : (
        <>
          <Chart
            name="metric"
            data={data}
            loading={!fresh && series.error === null}
            xLabel="Timestep"
            yLabel={key ?? ''}
            series={[{ label: key ?? 'value', stroke: VIOLET, width: 1.5, points: { show: false } }]}
            empty="No values"
          />
          {current?.sampled && (
            <div className="chart-foot">
              <span className="muted small">
                {formatInt(current.points.length)} points for {formatCompact(current.total)} values (min and max per
                bucket)
              </span>
            </div>
          )}
        </>
      )}
    </div>
  );
}

/** The agent's evaluations by checkpoint timestep (mean reward ± std), when at least two
 * checkpoints were evaluated: `rltrack evaluate --checkpoint all` as a learning curve of greedy
 * play. */
export function EvaluationChart({
  evaluations,
  checkpoints,
}: {
  evaluations: Evaluation[];
  checkpoints: Checkpoint[];
}) {
  const curve = useMemo(() => evaluationCurve(evaluations, checkpoints), [evaluations, checkpoints]);
  if (curve.step.length < 2) return null;
  const data = [curve.step, curve.mean, curve.low, curve.high] as uPlot.AlignedData;
  const band = (label: string): uPlot.Series => ({
    label,
    stroke: fade(VIOLET, 0.35),
    width: 1,
    dash: [4, 4],
    points: { show: false },
  });
  return (
    <div className="chart-block">
      <div className="chart-head">
        <h3>Evaluation reward by checkpoint</h3>
        <span className="muted small">deterministic play, mean ± std</span>
      </div>
      <Chart
        name="evaluations"
        data={data}
        xLabel="Checkpoint timestep"
        yLabel="Reward"
        xTick={(v) => formatCompact(v)}
        series={[
          { label: 'Mean reward', stroke: VIOLET, width: 2, points: { show: true, size: 6 } },
          band('Mean - std'),
          band('Mean + std'),
        ]}
      />
    </div>
  );
}
