// Several runs side by side: their rewards overlaid, their statistics, and the
// hyperparameters that differ between them.
import { useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { api } from '../api/routes';
import type { CompareResponse } from '../api/types';
import { Chart, fade, PALETTE } from '../components/Chart';
import { Card } from '../components/Layout';
import { Link } from '../components/Link';
import { Empty, ErrorState, Loading } from '../components/States';
import { StatusBadge } from '../components/StatusBadge';
import { useApi } from '../hooks/useApi';
import { formatDuration, formatInt, formatNumber, formatPercent, formatValue, secondsBetween } from '../lib/format';
import { navigate, paths } from '../lib/router';
import { autoWindow, joinSeries, movingAverage, toXY, type XY } from '../lib/series';

const color = (i: number) => PALETTE[i % PALETTE.length]!;

export function ComparePage({ runIds }: { runIds: string[] }) {
  const valid = runIds.length >= 2 && runIds.length <= 8;
  const compare = useApi<CompareResponse>(valid ? api.compare(runIds) : null);
  const [raw, setRaw] = useState(false);

  const runs = compare.data?.runs ?? [];
  const reward = useMemo(() => {
    const smoothed: XY[] = [];
    const rawXY: XY[] = [];
    for (const run of runs) {
      const xy = toXY(
        run.metrics.episodes,
        (p) => p.episode,
        (p) => p.total_reward,
      );
      const window = autoWindow(run.metrics.total, xy.x.length, run.metrics.sampled);
      rawXY.push(xy);
      smoothed.push({ x: xy.x, y: movingAverage(xy.x, xy.y, window) });
    }
    const joined = joinSeries(raw ? rawXY : smoothed);
    return [joined.x, ...joined.ys] as uPlot.AlignedData;
  }, [runs, raw]);
  const winRate = useMemo(() => {
    const joined = joinSeries(
      runs.map((r) =>
        toXY(
          r.metrics.rolling_win_rate,
          (p) => p.episode,
          (p) => p.win_rate,
        ),
      ),
    );
    return [joined.x, ...joined.ys] as uPlot.AlignedData;
  }, [runs]);
  const hasWins = runs.some((r) => r.metrics.rolling_win_rate.length > 0);

  if (!valid) {
    return (
      <div className="page">
        <h1>Compare runs</h1>
        <Empty title="Pick 2 to 8 runs to compare">
          Tick them in the <Link href="/">runs list</Link>, then press Compare.
        </Empty>
      </div>
    );
  }
  if (compare.error) return <ErrorState error={compare.error} what="Comparison" />;
  if (compare.data === null) return <Loading label="Loading the runs…" />;

  const remove = (id: string) => navigate(paths.compare(runIds.filter((x) => x !== id)));
  const byId = new Map(runs.map((r) => [r.id, r]));
  const order = runs.map((r) => r.id);
  const params = compare.data.differing_params;

  return (
    <div className="page">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link href="/">Runs</Link>
        <span aria-hidden="true">/</span>
        <span>Compare</span>
      </nav>
      <div className="page-header">
        <div>
          <h1>Compare {runs.length} runs</h1>
        </div>
      </div>

      <Card title="Runs">
        <div className="table-wrap">
          <table className="table" data-testid="compare-runs">
            <thead>
              <tr>
                <th />
                <th>Run</th>
                <th>Status</th>
                <th>Algorithm</th>
                <th>Environment</th>
                <th className="num">Episodes</th>
                <th className="num">Avg reward</th>
                <th className="num">Max reward</th>
                <th className="num">Win rate</th>
                <th className="num">Duration</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {runs.map((r, i) => (
                <tr key={r.id} data-run-id={r.id}>
                  <td>
                    <span className="swatch" style={{ background: color(i) }} />
                  </td>
                  <td>
                    <Link href={paths.run(r.id)}>{r.name}</Link>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{r.algorithm}</td>
                  <td>{r.env_id}</td>
                  <td className="num">{formatInt(r.episodes)}</td>
                  <td className="num">{formatNumber(r.stats?.mean_reward, 2)}</td>
                  <td className="num">{formatNumber(r.stats?.max_reward, 2)}</td>
                  <td className="num">{formatPercent(r.stats?.last_win_rate)}</td>
                  <td className="num">{formatDuration(r.duration_s ?? secondsBetween(r.start_time, r.end_time))}</td>
                  <td>
                    {runs.length > 2 && (
                      <button
                        type="button"
                        className="btn btn-ghost btn-small"
                        onClick={() => remove(r.id)}
                        aria-label={`Remove ${r.name}`}
                      >
                        Remove
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>

      <Card
        title="Episode reward"
        actions={
          <label className="muted small">
            <input type="checkbox" checked={raw} onChange={(e) => setRaw(e.target.checked)} /> raw rewards (else moving
            averages)
          </label>
        }
      >
        <Chart
          name="compare-reward"
          data={reward}
          height={320}
          xLabel="Episode"
          yLabel="Reward"
          syncKey="compare"
          series={runs.map((r, i) => ({
            label: r.name,
            stroke: raw ? fade(color(i), 0.7) : color(i),
            width: raw ? 1 : 2,
            spanGaps: true,
            points: { show: false },
          }))}
          empty="These runs have no finished episodes"
        />
        <div className="chart-foot">
          <span className="muted small">Drag to zoom · double-click to reset</span>
        </div>
      </Card>

      {hasWins && (
        <Card title="Rolling win rate">
          <Chart
            name="compare-win-rate"
            data={winRate}
            xLabel="Episode"
            yLabel="Win rate"
            syncKey="compare"
            yTick={(v) => formatPercent(v, 0)}
            scales={{ y: { range: [0, 1] } }}
            series={runs.map((r, i) => ({
              label: r.name,
              stroke: color(i),
              width: 2,
              spanGaps: true,
              points: { show: false },
            }))}
          />
        </Card>
      )}

      <Card title={`Hyperparameters that differ (${params.length})`}>
        {params.length === 0 ? (
          <Empty title="These runs have the same hyperparameters" />
        ) : (
          <div className="table-wrap">
            <table className="table table-compact" data-testid="differing-params">
              <thead>
                <tr>
                  <th>Parameter</th>
                  {order.map((id, i) => (
                    <th key={id} className="plain-head">
                      <span className="swatch" style={{ background: color(i) }} /> {byId.get(id)?.name ?? id}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {params.map((p) => (
                  <tr key={p.key}>
                    <th className="mono">{p.key}</th>
                    {order.map((id) => (
                      <td className="mono" key={id}>
                        {id in p.values ? formatValue(p.values[id]) : <span className="muted">unset</span>}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
