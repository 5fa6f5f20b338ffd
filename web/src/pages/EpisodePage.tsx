// An episode: its record and metrics; for a trading episode the price with entries and exits,
// the equity and drawdown curves and the trades; otherwise the per-step reward when traced.
import { useMemo } from 'react';
import type uPlot from 'uplot';
import { api } from '../api/routes';
import type { EpisodeDetail, EpisodeModel, Run, StepTrace, Trade } from '../api/types';
import { Chart, fade, PALETTE } from '../components/Chart';
import { Card, KeyValues, Stat } from '../components/Layout';
import { Link } from '../components/Link';
import { Empty, ErrorState, Loading } from '../components/States';
import { StatusBadge } from '../components/StatusBadge';
import { useApi } from '../hooks/useApi';
import {
  DASH,
  checkpointLabel,
  formatDateTime,
  formatDuration,
  formatInt,
  formatNumber,
  formatPercent,
  formatValue,
  formatWin,
  isNum,
  secondsBetween,
} from '../lib/format';
import { paths } from '../lib/router';
import { drawdown, maxDrawdown, toXY } from '../lib/series';
import { cumulative, isTrading, priceChartData, splitSteps, tradeReturn, tradeStats } from '../lib/trading';

const SLATE = '#334155';
const GREEN = PALETTE[2]!;
const RED = PALETTE[1]!;
const BLUE = PALETTE[0]!;

export function EpisodePage({ episodeId }: { episodeId: string }) {
  const episode = useApi<EpisodeDetail>(api.episode(episodeId));
  const runId = episode.data?.run_id ?? null;
  const run = useApi<Run>(runId ? api.run(runId, 2) : null);
  const model = useApi<EpisodeModel>(api.episodeModel(episodeId));

  if (episode.error) return <ErrorState error={episode.error} what="Episode" />;
  if (episode.data === null) return <Loading label="Loading the episode…" />;
  const e = episode.data;
  const { trace, stepCount } = splitSteps(e.steps);
  const trades = e.trades ?? [];
  const trading = isTrading(trades, trace);
  const metrics = Object.entries(e.metrics ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const steps = isNum(e.step_count) ? e.step_count : stepCount;

  return (
    <div className="page">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link href="/">Runs</Link>
        <span aria-hidden="true">/</span>
        <Link href={paths.run(e.run_id)}>{run.data?.name ?? e.run_id.slice(0, 8)}</Link>
        <span aria-hidden="true">/</span>
        <span>Episode #{formatInt(e.index)}</span>
      </nav>
      <div className="page-header">
        <div>
          <h1 className="run-title">
            Episode #{formatInt(e.index)} <StatusBadge status={e.status} />
          </h1>
          <p className="subtitle">
            {run.data ? `${run.data.algorithm} on ${run.data.env_id}` : ' '} · env slot {e.env_slot}
            {e.agent_id ? ` · agent ${e.agent_id}` : ''}
          </p>
        </div>
      </div>

      <div className="stats">
        <Stat label="Total reward" testId="stat-episode-reward" value={formatNumber(e.total_reward, 4)} />
        <Stat
          label="Steps"
          value={steps !== null ? formatInt(steps) : trace.length > 0 ? formatInt(trace.length) : DASH}
          hint={
            e.drain_steps > 0
              ? `${e.drain_steps} after training stopped`
              : steps === null && trace.length > 0
                ? 'traced steps'
                : undefined
          }
        />
        {isNum(e.win) && <Stat label="Result" value={formatWin(e.win)} />}
        <Stat label="Duration" value={formatDuration(secondsBetween(e.start_time, e.end_time))} />
        <Stat
          label="Timesteps"
          value={`${formatInt(e.start_timestep)} → ${e.end_timestep === null ? '…' : formatInt(e.end_timestep)}`}
        />
        {isNum(e.epsilon) && <Stat label="Epsilon" value={formatNumber(e.epsilon, 3)} />}
      </div>

      {trading && <TradingSection trades={trades} trace={trace} metrics={e.metrics ?? {}} />}
      {!trading && trace.length > 0 && <StepRewardSection trace={trace} />}

      <div className="grid-2">
        <Card title="Metrics">
          {metrics.length === 0 ? (
            <Empty title="No metrics recorded for this episode" />
          ) : (
            <table className="table table-compact table-kv" data-testid="episode-metrics">
              <tbody>
                {metrics.map(([k, v]) => (
                  <tr key={k}>
                    <th className="mono">{k}</th>
                    <td className="num mono">{formatValue(v)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Card title="Record">
          <KeyValues
            items={[
              ['Episode id', String(e.id)],
              [
                'Run',
                <Link key="r" href={paths.run(e.run_id)}>
                  {run.data?.name ?? e.run_id}
                </Link>,
              ],
              ['Started', formatDateTime(e.start_time)],
              ['Ended', formatDateTime(e.end_time)],
              ['Env slot', String(e.env_slot)],
              [
                'Model',
                model.data?.checkpoint ? (
                  <span key="m" title={model.data.checkpoint.path}>
                    {checkpointLabel(model.data.checkpoint.path)} (episode {formatInt(model.data.checkpoint.episode_index)},{' '}
                    {model.data.checkpoint.kind})
                  </span>
                ) : model.data ? (
                  'no checkpoint saved before this episode'
                ) : (
                  DASH
                ),
              ],
            ]}
          />
        </Card>
      </div>
    </div>
  );
}

function TradingSection({
  trades,
  trace,
  metrics,
}: {
  trades: Trade[];
  trace: StepTrace[];
  metrics: Record<string, unknown>;
}) {
  const price = useMemo(() => {
    const joined = priceChartData(trace, trades);
    return [joined.x, ...joined.ys] as uPlot.AlignedData;
  }, [trace, trades]);
  const equity = useMemo(() => {
    const xy = toXY(
      trace,
      (s) => s.step,
      (s) => s.portfolio_value,
    );
    return {
      y: xy.y,
      curve: [xy.x, xy.y] as uPlot.AlignedData,
      drawdown: [xy.x, drawdown(xy.y)] as uPlot.AlignedData,
    };
  }, [trace]);
  const hasEquity = equity.y.some((v) => v !== null);
  const stats = tradeStats(trades);
  const mdd = hasEquity ? maxDrawdown(equity.y) : isNum(metrics.max_drawdown) ? Math.abs(metrics.max_drawdown) : null;

  const drawTrades = (u: uPlot) => {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.lineWidth = 1.2 * devicePixelRatio;
    for (const t of trades) {
      if (t.entry_price === null || t.exit_price === null) continue;
      ctx.strokeStyle = fade((t.pnl ?? 0) >= 0 ? GREEN : RED, 0.7);
      ctx.beginPath();
      ctx.moveTo(u.valToPos(t.entry_step, 'x', true), u.valToPos(t.entry_price, 'y', true));
      ctx.lineTo(u.valToPos(t.exit_step, 'x', true), u.valToPos(t.exit_price, 'y', true));
      ctx.stroke();
    }
    ctx.restore();
  };

  return (
    <>
      <div className="stats">
        <Stat label="Trades" testId="stat-trades" value={formatInt(stats.count)} />
        <Stat
          label="Trade PnL"
          value={<span className={pnlClass(stats.totalPnl)}>{formatNumber(stats.totalPnl, 2)}</span>}
          hint={isNum(stats.costs) ? `costs ${formatNumber(stats.costs, 2)}` : undefined}
        />
        <Stat
          label="Winning trades"
          value={formatPercent(stats.winRate)}
          hint={stats.count ? `${stats.winners} of ${stats.count}` : undefined}
        />
        <Stat label="Max drawdown" value={formatPercent(mdd)} />
        <Stat label="Best trade" value={formatNumber(stats.best, 2)} />
        <Stat label="Worst trade" value={formatNumber(stats.worst, 2)} />
      </div>
      <Card
        title="Price and trades"
        actions={
          <span className="legend-note">
            <span className="dot dot-green" /> entry <span className="dot dot-red" /> exit · dashed: the trade, green
            when it gained
          </span>
        }
      >
        <Chart
          name="price"
          data={price}
          height={300}
          xLabel="Step"
          yLabel="Price"
          xTick={(v) => formatInt(v)}
          yTick={(v) => formatNumber(v, 2)}
          onDraw={drawTrades}
          series={[
            { label: 'Price', stroke: SLATE, width: 1.5, spanGaps: true, points: { show: false } },
            {
              label: 'Entry',
              stroke: GREEN,
              fill: GREEN,
              paths: () => null,
              points: { show: true, size: 9, fill: GREEN, stroke: '#fff', width: 1.5 },
            },
            {
              label: 'Exit',
              stroke: RED,
              fill: RED,
              paths: () => null,
              points: { show: true, size: 9, fill: RED, stroke: '#fff', width: 1.5 },
            },
          ]}
          empty="No prices recorded"
        />
      </Card>
      {hasEquity ? (
        <div className="grid-2">
          <Card title="Equity">
            <Chart
              name="equity"
              data={equity.curve}
              xLabel="Step"
              yLabel="Portfolio value"
              xTick={(v) => formatInt(v)}
              yTick={(v) => formatNumber(v, 2)}
              series={[
                {
                  label: 'Portfolio value',
                  stroke: BLUE,
                  width: 1.8,
                  fill: fade(BLUE, 0.08),
                  spanGaps: true,
                  points: { show: false },
                },
              ]}
            />
          </Card>
          <Card title="Drawdown">
            <Chart
              name="drawdown"
              data={equity.drawdown}
              xLabel="Step"
              yLabel="Drawdown"
              xTick={(v) => formatInt(v)}
              yTick={(v) => formatPercent(v, 0)}
              scales={{ y: { range: (_u, min) => [Math.min(min, -0.01), 0] } }}
              series={[
                {
                  label: 'Drawdown',
                  stroke: RED,
                  width: 1.5,
                  fill: fade(RED, 0.15),
                  spanGaps: true,
                  points: { show: false },
                  value: (_u, v) => formatPercent(v, 2),
                },
              ]}
            />
          </Card>
        </div>
      ) : (
        <p className="muted small">No portfolio values were traced for this episode, so there is no equity curve.</p>
      )}
      <Card title={`Trades (${formatInt(trades.length)})`}>
        {trades.length === 0 ? (
          <Empty title="No trades in this episode" />
        ) : (
          <div className="table-wrap">
            <table className="table table-compact" data-testid="trades-table">
              <thead>
                <tr>
                  <th className="num">#</th>
                  <th>Side</th>
                  <th className="num">Entry step</th>
                  <th className="num">Entry price</th>
                  <th className="num">Exit step</th>
                  <th className="num">Exit price</th>
                  <th className="num">Held</th>
                  <th className="num">Quantity</th>
                  <th className="num">Return</th>
                  <th className="num">PnL</th>
                  <th className="num">Costs</th>
                </tr>
              </thead>
              <tbody>
                {trades.map((t, i) => (
                  <tr key={t.seq ?? i}>
                    <td className="num">{formatInt(t.seq ?? i)}</td>
                    <td>
                      <span className={`side side-${t.direction}`}>{t.direction}</span>
                    </td>
                    <td className="num" title={formatDateTime(t.entry_time)}>
                      {formatInt(t.entry_step)}
                    </td>
                    <td className="num">{formatNumber(t.entry_price, 4)}</td>
                    <td className="num" title={formatDateTime(t.exit_time)}>
                      {formatInt(t.exit_step)}
                    </td>
                    <td className="num">{formatNumber(t.exit_price, 4)}</td>
                    <td className="num">{formatInt(t.exit_step - t.entry_step)}</td>
                    <td className="num">{formatNumber(t.quantity, 4)}</td>
                    <td className={`num ${pnlClass(tradeReturn(t))}`}>{formatPercent(tradeReturn(t), 2)}</td>
                    <td className={`num ${pnlClass(t.pnl)}`}>{formatNumber(t.pnl, 4)}</td>
                    <td className="num">{formatNumber(t.costs, 4)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}

function StepRewardSection({ trace }: { trace: StepTrace[] }) {
  const data = useMemo(() => {
    const xy = toXY(
      trace,
      (s) => s.step,
      (s) => s.reward,
    );
    return [xy.x, cumulative(xy.y)] as uPlot.AlignedData;
  }, [trace]);
  return (
    <Card title="Reward within the episode">
      <Chart
        name="step-reward"
        data={data}
        xLabel="Step"
        yLabel="Cumulative reward"
        xTick={(v) => formatInt(v)}
        series={[
          { label: 'Cumulative reward', stroke: BLUE, width: 2, fill: fade(BLUE, 0.08), points: { show: false } },
        ]}
      />
    </Card>
  );
}

function pnlClass(v: number | null | undefined): string {
  if (!isNum(v) || v === 0) return '';
  return v > 0 ? 'pos' : 'neg';
}
