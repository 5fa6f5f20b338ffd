// A sweep: the Optuna study behind a sweep group. Its trials (pruned ones marked, the best one
// highlighted), the optimisation history (each trial's value and the best so far), parameter
// importances and the trials in parallel coordinates.
import { useMemo } from 'react';
import type uPlot from 'uplot';
import { api } from '../api/routes';
import type { Sweep, TrialState as TrialStateName } from '../api/types';
import { Chart, steppedPath } from '../components/Chart';
import { BarList } from '../components/experiments/BarList';
import { ParallelCoordinates } from '../components/experiments/ParallelCoordinates';
import { Card, Stat } from '../components/Layout';
import { Link } from '../components/Link';
import { Empty, ErrorState, Loading } from '../components/States';
import { useApi } from '../hooks/useApi';
import { bandChart } from '../lib/bands';
import type { AxisSpec, ParallelTrial } from '../lib/parallel';
import { formatInt, formatNumber, formatValue, shortId } from '../lib/format';
import { paths } from '../lib/router';

const VALUE_COLOR = '#2563eb';
const BEST_COLOR = '#dc2626';

const OBJECTIVES: Record<string, string> = {
  last100: "mean reward of the run's last 100 episodes",
  evaluation: "mean reward of the run's latest evaluation",
};

function TrialState({ state }: { state: TrialStateName }) {
  return (
    <span className={`state-${state.toLowerCase()}`} data-state={state}>
      {state.toLowerCase()}
    </span>
  );
}

export function SweepPage({ groupId }: { groupId: string }) {
  const sweep = useApi<Sweep>(api.sweep(groupId));
  const data = sweep.data;
  const history = useMemo(() => {
    const h = data?.history ?? [];
    const x = h.map((p) => p.number);
    return bandChart(
      [
        { label: 'trial value', color: VALUE_COLOR, x, y: h.map((p) => p.value), pointsOnly: true },
        { label: 'best so far', color: BEST_COLOR, x, y: h.map((p) => p.best), stepped: true, width: 2 },
      ],
      steppedPath,
    );
  }, [data]);
  // The completed trials as the API lays them out, and the pruned ones (no value: dashed).
  const parallel = useMemo(() => {
    if (!data) return null;
    const pc = data.parallel_coordinates;
    const specs = new Map<string, AxisSpec>(pc.axes.map((a) => [a.param, a]));
    const lines: ParallelTrial[] = pc.numbers.map((number, i) => ({
      number,
      value: pc.values[i] ?? null,
      params: Object.fromEntries(pc.axes.map((a) => [a.param, a.values[i]])),
    }));
    for (const t of data.trials) {
      if (t.state === 'PRUNED') lines.push({ number: t.number, value: null, params: t.params });
    }
    return { lines, specs, params: pc.axes.map((a) => a.param) };
  }, [data]);

  if (sweep.error) return <ErrorState error={sweep.error} what="Sweep" />;
  if (data === null || parallel === null) return <Loading label="Loading the sweep…" />;

  const { trials, best_trial: best, trial_counts: counts } = data;
  const params = data.params;
  const objective = OBJECTIVES[data.objective] ?? data.objective;

  return (
    <div className="page">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link href={paths.groups()}>Groups</Link>
        <span aria-hidden="true">/</span>
        <Link href={paths.group(data.group_id)}>{data.name}</Link>
        <span aria-hidden="true">/</span>
        <span>Sweep</span>
      </nav>
      <div className="page-header">
        <div>
          <h1>Sweep {data.study_name}</h1>
          <p className="subtitle">
            {data.direction === 'maximize' ? 'Maximizes' : 'Minimizes'} the {objective} over {params.length} parameter
            {params.length === 1 ? '' : 's'}
            {data.sampler ? ` · sampler ${data.sampler}` : ''}
            {data.pruner ? ` · pruner ${data.pruner}` : ''}
          </p>
        </div>
        <div className="page-actions">
          <Link href={paths.group(data.group_id)} className="btn">
            Group curves
          </Link>
        </div>
      </div>

      <div className="stats">
        <Stat label="Trials" value={formatInt(trials.length)} testId="stat-trials" />
        <Stat label="Complete" value={formatInt(counts.complete)} testId="stat-complete" />
        <Stat label="Pruned" value={formatInt(counts.pruned)} testId="stat-pruned" />
        <Stat label="Failed" value={formatInt(counts.fail)} testId="stat-failed" />
        {counts.running > 0 && <Stat label="Running" value={formatInt(counts.running)} testId="stat-running" />}
        <Stat
          label="Best value"
          value={best ? formatNumber(best.value, 4) : '—'}
          hint={best ? `trial ${best.number}` : 'no trial complete yet'}
          testId="stat-best"
        />
      </div>

      {trials.length === 0 ? (
        <Card title="Trials">
          <Empty title="No trials yet">
            The sweep has not started a trial. Run it with <code>rltrack sweep</code>.
          </Empty>
        </Card>
      ) : (
        <>
          <Card title="Optimisation history">
            <Chart
              name="sweep-history"
              data={history.data as uPlot.AlignedData}
              series={history.series}
              height={300}
              xLabel="Trial"
              xTick={(v) => (Number.isInteger(v) ? String(v) : '')}
              yLabel="Objective"
              empty="No trial has completed yet"
            />
            <div className="chart-foot">
              <span className="muted small">
                Each completed trial's value (dots) and the best so far (red, stepped)
              </span>
            </div>
          </Card>

          <div className="chart-grid">
            <Card title="Parameter importances">
              {data.importances.length === 0 ? (
                <Empty title="No importances yet">
                  {data.importances_note ?? 'Importances need completed trials whose parameters differ.'}
                </Empty>
              ) : (
                <>
                  <BarList
                    testId="importances"
                    items={data.importances.map((i) => ({ label: i.param, value: i.importance }))}
                  />
                  <p className="muted small">PED-ANOVA importances (Optuna's); they sum to 1.</p>
                </>
              )}
            </Card>
            <Card title="Best trial">
              {best === null ? (
                <Empty title="No trial complete yet" />
              ) : (
                <table className="table table-compact table-kv" data-testid="best-trial">
                  <tbody>
                    <tr>
                      <th>Trial</th>
                      <td>{best.number}</td>
                    </tr>
                    <tr>
                      <th>Value</th>
                      <td>{formatNumber(best.value, 4)}</td>
                    </tr>
                    {params.map((p) => (
                      <tr key={p}>
                        <th className="mono">{p}</th>
                        <td className="mono">{formatValue(best.params[p])}</td>
                      </tr>
                    ))}
                    {best.run_id && (
                      <tr>
                        <th>Run</th>
                        <td>
                          <Link href={paths.run(best.run_id)}>{shortId(best.run_id)}</Link>
                        </td>
                      </tr>
                    )}
                  </tbody>
                </table>
              )}
            </Card>
          </div>

          <Card title="Parallel coordinates">
            {parallel.lines.length === 0 ? (
              <Empty title="No trial has completed or been pruned yet" />
            ) : (
              <ParallelCoordinates
                trials={parallel.lines}
                params={parallel.params}
                objective="objective"
                direction={data.direction}
                bestNumber={best?.number ?? null}
                specs={parallel.specs}
              />
            )}
          </Card>

          <Card title={`Trials (${formatInt(trials.length)})`}>
            <div className="table-wrap">
              <table className="table table-compact" data-testid="trials-table">
                <thead>
                  <tr>
                    <th className="num">#</th>
                    <th>State</th>
                    <th className="num">Value</th>
                    {params.map((p) => (
                      <th key={p} className="plain-head mono">
                        {p}
                      </th>
                    ))}
                    <th>Run</th>
                  </tr>
                </thead>
                <tbody>
                  {trials.map((t) => (
                    <tr
                      key={t.number}
                      data-trial={t.number}
                      data-state={t.state}
                      className={t.number === best?.number ? 'best-trial' : undefined}
                      aria-label={t.number === best?.number ? `Trial ${t.number}, the best` : undefined}
                    >
                      <td className="num">
                        {t.number}
                        {t.number === best?.number && (
                          <span className="tag" data-testid="best-marker" style={{ marginLeft: 6 }}>
                            best
                          </span>
                        )}
                      </td>
                      <td title={t.error ?? undefined}>
                        <TrialState state={t.state} />
                        {t.state === 'PRUNED' && t.intermediate_values.length > 0 && (
                          <span className="muted small">
                            {' '}
                            at {formatInt(t.intermediate_values[t.intermediate_values.length - 1]!.step)} steps
                          </span>
                        )}
                      </td>
                      <td className="num">{formatNumber(t.value, 4)}</td>
                      {params.map((p) => (
                        <td key={p} className="mono">
                          {formatValue(t.params[p])}
                        </td>
                      ))}
                      <td>{t.run_id ? <Link href={paths.run(t.run_id)}>{shortId(t.run_id)}</Link> : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Card>
        </>
      )}
    </div>
  );
}
