// One group of runs as one experiment: the aggregate learning curve over its runs (IQM with its
// 95% bootstrap band, the mean beside it, each run's own curve on request) over episodes,
// timesteps or wall time; its final scores with their intervals; its runs.
import { useMemo } from 'react';
import { api } from '../api/routes';
import type { GroupDetail, XAxis } from '../api/types';
import { Chart, PALETTE, steppedPath } from '../components/Chart';
import { FinalScoresTable, XAxisPicker } from '../components/experiments/Estimates';
import { GroupKindBadge } from '../components/experiments/GroupKindBadge';
import { Card } from '../components/Layout';
import { Link } from '../components/Link';
import { Empty, ErrorState, Loading } from '../components/States';
import { StatusBadge } from '../components/StatusBadge';
import { useApi } from '../hooks/useApi';
import { bandChart, type Line } from '../lib/bands';
import { formatDateTime, formatInt, formatNumber, shortId } from '../lib/format';
import { curveLines, parseXAxis, runLines, xAxisLabel, xTickFormat } from '../lib/groups';
import { navigate, paths } from '../lib/router';

const IQM_COLOR = PALETTE[0]!;
const RUN_COLOR = '#64748b';

export function GroupPage({ groupId, search }: { groupId: string; search: string }) {
  const params = new URLSearchParams(search);
  const x = parseXAxis(params.get('x'));
  const perRun = params.get('per_run') === 'true';
  const detail = useApi<GroupDetail>(api.group(groupId, { x, per_run: perRun ? 'true' : undefined }));

  const setView = (patch: { x?: XAxis; perRun?: boolean }) => {
    const next = new URLSearchParams();
    const nx = patch.x ?? x;
    const np = patch.perRun ?? perRun;
    if (nx !== 'episode') next.set('x', nx);
    if (np) next.set('per_run', 'true');
    const q = next.toString();
    navigate(`${paths.group(groupId)}${q ? `?${q}` : ''}`, { replace: true });
  };

  const data = detail.data;
  const names = useMemo(() => new Map((data?.runs ?? []).map((r) => [r.id, r.name])), [data]);
  const chart = useMemo(() => {
    if (!data) return null;
    const lines: Line[] = [];
    if (perRun && data.per_run) lines.push(...runLines(data.per_run, names, RUN_COLOR));
    lines.push(...curveLines(data.curve, IQM_COLOR, ''));
    return bandChart(lines, steppedPath);
  }, [data, perRun, names]);

  if (detail.error) return <ErrorState error={detail.error} what="Group" />;
  if (data === null || chart === null) return <Loading label="Loading the group…" />;
  const { group, runs } = data;
  // The answer may still be the previous x axis while the new one loads.
  const shownX = data.x;

  return (
    <div className="page">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link href={paths.groups()}>Groups</Link>
        <span aria-hidden="true">/</span>
        <span>{group.name}</span>
      </nav>
      <div className="page-header">
        <div>
          <h1>{group.name}</h1>
          <p className="subtitle">
            <GroupKindBadge kind={group.kind} /> {formatInt(group.runs)} run{group.runs === 1 ? '' : 's'} · made{' '}
            {formatDateTime(group.created_at)}
            {group.description ? ` · ${group.description}` : ''}
          </p>
        </div>
        <div className="page-actions">
          {group.kind === 'sweep' && (
            <Link href={paths.sweep(group.id)} className="btn" data-testid="sweep-link">
              Sweep study
            </Link>
          )}
        </div>
      </div>

      <Card
        title={`Learning curve over ${formatInt(runs.length)} run${runs.length === 1 ? '' : 's'}`}
        actions={
          <>
            <label className="muted small">
              <input
                type="checkbox"
                checked={perRun}
                onChange={(e) => setView({ perRun: e.target.checked })}
                data-testid="per-run-toggle"
              />{' '}
              each run's curve
            </label>
            <XAxisPicker value={x} onChange={(nx) => setView({ x: nx })} />
          </>
        }
      >
        <div className={detail.loading ? 'is-refreshing' : undefined} data-x={shownX}>
          <Chart
            name="group-curve"
            data={chart.data}
            series={chart.series}
            bands={chart.bands}
            height={340}
            xLabel={xAxisLabel(shownX)}
            yLabel="Episode reward"
            xTick={xTickFormat(shownX)}
            legend={!perRun}
            loading={detail.loading}
            empty={data.curve_note ?? 'The runs of this group have no finished episodes yet'}
          />
        </div>
        <div className="chart-foot">
          <span className="muted small">
            IQM across runs (solid) with its 95% bootstrap confidence band, mean (dashed)
            {perRun ? ', each run (grey)' : ''} · drag to zoom · double-click to reset
          </span>
          {data.curve_note && data.curve.length > 0 && (
            <span className="muted small" data-testid="curve-note">
              {data.curve_note}
            </span>
          )}
        </div>
      </Card>

      <Card title="Final scores">
        {data.final_scores === null && data.evaluation_scores === null ? (
          <Empty title="No run of this group has a finished episode yet" />
        ) : (
          <div className="chart-grid scores-grid">
            {data.final_scores && (
              <div>
                <h3 className="scores-title">Mean reward of each run's last 100 episodes</h3>
                <FinalScoresTable scores={data.final_scores} testId="final-scores" />
                {data.final_scores.note && <p className="muted small">{data.final_scores.note}</p>}
              </div>
            )}
            {data.evaluation_scores && (
              <div>
                <h3 className="scores-title">Each run's latest evaluation</h3>
                <FinalScoresTable scores={data.evaluation_scores} testId="evaluation-scores" />
                {data.evaluation_scores.note && <p className="muted small">{data.evaluation_scores.note}</p>}
              </div>
            )}
          </div>
        )}
        <p className="muted small" data-testid="scores-method">
          {Math.round(data.bootstrap.confidence * 100)}% {data.bootstrap.method} bootstrap intervals over runs (
          {formatInt(data.bootstrap.resamples)} resamples, seed {data.bootstrap.seed}).{' '}
          {data.target.value !== null
            ? `Optimality gap against a target of ${formatNumber(data.target.value, 2)}${
                data.target.source === 'env' ? " (the environment's reward threshold)" : ''
              }.`
            : (data.target.note ?? 'No target score: no optimality gap.')}
        </p>
        {data.skipped.length > 0 && (
          <div className="banner" data-testid="skipped-runs">
            Left out:{' '}
            {data.skipped.map((r, i) => (
              <span key={r.run_id}>
                {i > 0 ? '; ' : ''}
                <Link href={paths.run(r.run_id)}>{r.name}</Link> ({r.reason})
              </span>
            ))}
          </div>
        )}
        {data.notes.map((note) => (
          <p className="muted small" key={note}>
            {note}
          </p>
        ))}
      </Card>

      <Card title={`Runs (${formatInt(runs.length)})`}>
        {runs.length === 0 ? (
          <Empty title="No runs in this group yet">
            Runs join a group with <code>rltrack train --group NAME</code>.
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="group-runs">
              <thead>
                <tr>
                  <th>Status</th>
                  <th>Run</th>
                  <th className="num">Seed</th>
                  <th>Algorithm</th>
                  <th className="num">Episodes</th>
                  <th className="num">Last 100 mean</th>
                  <th className="num">Latest evaluation</th>
                  <th>Started</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr key={r.id} data-run-id={r.id}>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td className="name-cell">
                      <Link href={paths.run(r.id)}>{r.name}</Link>
                      <div className="cell-sub">
                        <span className="mono">{shortId(r.id)}</span>
                      </div>
                    </td>
                    <td className="num">{r.seed ?? '—'}</td>
                    <td>{r.algorithm}</td>
                    <td className="num">{formatInt(r.episodes)}</td>
                    <td className="num" data-testid="last-100-mean">
                      {formatNumber(r.last_100_mean, 2)}
                      {r.last_100_episodes > 0 && r.last_100_episodes < 100 && (
                        <span className="muted small"> ({r.last_100_episodes} ep.)</span>
                      )}
                    </td>
                    <td className="num">{formatNumber(r.latest_evaluation, 2)}</td>
                    <td>{formatDateTime(r.start_time)}</td>
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
