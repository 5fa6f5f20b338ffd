// A run: its information and statistics, charts, configuration, episodes, checkpoints,
// evaluations and videos. A running run updates live from /api/events.
import { useCallback, useRef, useState } from 'react';
import { api } from '../api/routes';
import type { Artifact, Checkpoint, Evaluation, Run, RunEvent } from '../api/types';
import { Card, KeyValues, Stat } from '../components/Layout';
import { Link } from '../components/Link';
import { ConfigView } from '../components/run/ConfigView';
import { EpisodesTable } from '../components/run/EpisodesTable';
import { EvaluationChart, LengthChart, MetricChart, RewardChart, WinRateChart } from '../components/run/RunCharts';
import { ArtifactsList, CheckpointsTable, EvaluationsTable, isVideo, Videos } from '../components/run/RunTables';
import { ErrorState, Loading } from '../components/States';
import { StatusBadge } from '../components/StatusBadge';
import { useAfterPaint } from '../hooks/useAfterPaint';
import { useApi } from '../hooks/useApi';
import { useNow } from '../hooks/useNow';
import { useRunEvents } from '../hooks/useRunEvents';
import { flattenConfig } from '../lib/config';
import {
  formatCompact,
  formatDateTime,
  formatInt,
  formatNumber,
  formatPercent,
  formatRelative,
  formatValue,
  isNum,
  secondsBetween,
  stepsPerSecond,
} from '../lib/format';
import { paths } from '../lib/router';
import { LiveDot, RunDuration } from './RunsPage';

export function RunPage({ runId }: { runId: string }) {
  const run = useApi<Run>(api.run(runId));
  // The statistics and the episode charts come first; the sections below them (and their
  // requests) once those are on screen.
  const full = useAfterPaint(run.data !== null);
  const checkpoints = useApi<Checkpoint[]>(full ? api.checkpoints(runId) : null);
  const evaluations = useApi<Evaluation[]>(full ? api.evaluations(runId) : null);
  const artifacts = useApi<Artifact[]>(full ? api.artifacts(runId) : null);
  const [refresh, setRefresh] = useState(0);

  const running = run.data?.status === 'running';
  const now = useNow(running);
  const shown = useRef<Run | null>(null);
  shown.current = run.data;
  const onEvent = useCallback(
    (event: RunEvent | null) => {
      // The stream starts with the run as it is: nothing to fetch when the page shows that.
      const r = shown.current;
      if (event && r && event.status === r.status && event.timesteps === r.timesteps && event.episodes <= r.episodes) {
        return;
      }
      run.reload();
      checkpoints.reload();
      evaluations.reload();
      artifacts.reload();
      setRefresh((n) => n + 1);
    },
    [run, checkpoints, evaluations, artifacts],
  );
  const live = useRunEvents(running, runId, onEvent, 1500);

  if (run.error) return <ErrorState error={run.error} what="Run" />;
  if (run.data === null) return <Loading label="Loading the run…" />;
  const r = run.data;
  const duration = r.duration_s ?? secondsBetween(r.start_time, r.end_time, now);
  const liveDuration = running ? secondsBetween(r.start_time, null, now) : duration;
  const sps = stepsPerSecond(r.timesteps, liveDuration);
  const videos = (artifacts.data ?? []).filter(isVideo);
  const others = (artifacts.data ?? []).filter((a) => !isVideo(a));
  const hasWins = r.metrics.rolling_win_rate.length > 0;
  const metadata = flattenConfig(r.metadata ?? {}).slice(0, 12);

  return (
    <div className="page">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link href="/">Runs</Link>
        <span aria-hidden="true">/</span>
        <span>{r.name}</span>
      </nav>
      <div className="page-header">
        <div>
          <h1 className="run-title">
            {r.name} <StatusBadge status={r.status} />
          </h1>
          <p className="subtitle">
            <span className="mono">{r.id}</span> · {r.algorithm} on {r.env_id} · started{' '}
            {formatRelative(r.start_time, now)} <LiveDot state={live} />
            {r.group_id && (
              <>
                {' '}
                ·{' '}
                <Link href={paths.group(r.group_id)} data-testid="run-group">
                  its group
                </Link>
              </>
            )}
          </p>
        </div>
        <div className="page-actions">
          <a className="btn" href={api.exportRun(r.id, 'csv')} download data-testid="export-csv">
            Export CSV
          </a>
          <a className="btn" href={api.exportRun(r.id, 'json')} download data-testid="export-json">
            Export JSON
          </a>
        </div>
      </div>

      {r.error && (
        <div className="banner banner-error" role="alert">
          <strong>The run failed.</strong>
          <pre className="error-text">{r.error}</pre>
        </div>
      )}

      {r.records_lost > 0 && (
        <div className="banner banner-error" role="alert" data-testid="records-lost">
          <strong>
            The record of this run is incomplete: the database refused {formatInt(r.records_lost)}{' '}
            {r.records_lost === 1 ? 'record' : 'records'}.
          </strong>
          {typeof r.metadata?.records_lost_cause === 'string' && (
            <pre className="error-text">{r.metadata.records_lost_cause}</pre>
          )}
        </div>
      )}

      <nav className="section-nav" aria-label="Sections">
        <a href="#charts">Charts</a>
        <a href="#episodes">Episodes</a>
        <a href="#config">Configuration</a>
        <a href="#checkpoints">Checkpoints</a>
        <a href="#evaluations">Evaluations</a>
        {videos.length > 0 && <a href="#videos">Videos</a>}
      </nav>

      <div className="stats" data-testid="run-stats">
        <Stat
          label="Episodes"
          testId="stat-episodes"
          value={formatInt(r.episodes)}
          hint={isNum(r.stats?.finished) ? `${formatInt(r.stats?.finished)} finished` : undefined}
        />
        <Stat
          label="Average reward"
          testId="stat-mean-reward"
          value={formatNumber(r.stats?.mean_reward, 2)}
          hint={isNum(r.stats?.mean_steps) ? `${formatNumber(r.stats?.mean_steps, 1)} steps on average` : undefined}
        />
        <Stat
          label="Max reward"
          testId="stat-max-reward"
          value={formatNumber(r.stats?.max_reward, 2)}
          hint={isNum(r.stats?.min_reward) ? `min ${formatNumber(r.stats?.min_reward, 2)}` : undefined}
        />
        <Stat
          label="Final win rate"
          testId="stat-win-rate"
          value={formatPercent(r.stats?.last_win_rate)}
          hint={hasWins ? 'over the last 100 results' : 'no wins reported'}
        />
        <Stat
          label="Timesteps"
          testId="stat-timesteps"
          value={formatCompact(r.timesteps)}
          hint={
            isNum(r.total_timesteps) && r.total_timesteps > 0 ? (
              <Progress
                value={(r.timesteps ?? 0) / r.total_timesteps}
                label={`of ${formatCompact(r.total_timesteps)}`}
              />
            ) : undefined
          }
        />
        <Stat
          label="Steps / s"
          testId="stat-sps"
          value={formatNumber(sps, 0)}
          hint={<RunDuration run={r} now={now} />}
        />
      </div>

      <Card title="Charts" id="charts">
        <RewardChart metrics={r.metrics} runId={r.id} />
        <div className="chart-grid">
          {hasWins && <WinRateChart metrics={r.metrics} runId={r.id} />}
          <LengthChart metrics={r.metrics} runId={r.id} />
          {full && <MetricChart runId={r.id} refresh={refresh} />}
        </div>
      </Card>

      {full && (
        <>
          <div className="grid-2">
            <Card title="Run">
              <KeyValues
                items={[
                  ['Agent', r.agent_id ?? '—'],
                  ['Algorithm', r.algorithm],
                  ['Environment', r.env_id],
                  ['Backend', r.backend],
                  ['Seed', formatValue(r.seed)],
                  ['Started', formatDateTime(r.start_time)],
                  ['Ended', running ? 'still running' : formatDateTime(r.end_time)],
                  ['Duration', <RunDuration key="d" run={r} now={now} />],
                  ...(running ? ([['Heartbeat', formatRelative(r.heartbeat_at, now)]] as [string, string][]) : []),
                  ...(r.parent_run_id
                    ? ([
                        [
                          'Resumed from',
                          <Link key="p" href={paths.run(r.parent_run_id)}>
                            {r.parent_run_id.slice(0, 8)}
                          </Link>,
                        ],
                      ] as [string, React.ReactNode][])
                    : []),
                  [
                    'Tags',
                    r.tags.length > 0
                      ? r.tags.map((t) => (
                          <span className="tag" key={t}>
                            {t}
                          </span>
                        ))
                      : '—',
                  ],
                  ...(r.notes ? ([['Notes', r.notes]] as [string, string][]) : []),
                  ...metadata.map(([k, v]) => [k, formatValue(v)] as [string, string]),
                ]}
              />
            </Card>
            <Card title="Configuration" id="config">
              <ConfigView config={r.config} />
            </Card>
          </div>

          <Card title="Episodes" id="episodes">
            <EpisodesTable runId={r.id} refresh={refresh} />
          </Card>

          <Card title="Checkpoints" id="checkpoints">
            {checkpoints.error ? (
              <ErrorState error={checkpoints.error} what="Checkpoints" />
            ) : checkpoints.data === null ? (
              <Loading />
            ) : (
              <CheckpointsTable checkpoints={checkpoints.data} />
            )}
          </Card>
          <Card title="Evaluations" id="evaluations">
            {evaluations.error ? (
              <ErrorState error={evaluations.error} what="Evaluations" />
            ) : evaluations.data === null ? (
              <Loading />
            ) : (
              <>
                <EvaluationChart evaluations={evaluations.data} checkpoints={checkpoints.data ?? []} />
                <EvaluationsTable evaluations={evaluations.data} checkpoints={checkpoints.data ?? []} />
              </>
            )}
          </Card>

          {videos.length > 0 && (
            <Card title="Videos" id="videos">
              <Videos videos={videos} />
            </Card>
          )}
          {others.length > 0 && (
            <Card title="Artifacts">
              <ArtifactsList artifacts={others} />
            </Card>
          )}
        </>
      )}
    </div>
  );
}

function Progress({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(1, value));
  return (
    <span className="progress-wrap">
      <span className="progress" aria-hidden="true">
        <span className="progress-bar" style={{ width: `${pct * 100}%` }} />
      </span>
      {label} ({formatPercent(pct, 0)})
    </span>
  );
}
