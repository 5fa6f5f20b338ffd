// Groups side by side: their aggregate curves with bands on one chart, their final scores, the
// performance profiles (the fraction of runs above each score, with its band) and the
// probability that a run of one group beats a run of another, with its interval.
import { useMemo } from 'react';
import { api } from '../api/routes';
import type { GroupsCompare, XAxis } from '../api/types';
import { Chart, PALETTE, steppedPath } from '../components/Chart';
import { EstimateText, SCORE_ROWS, scoreDigits, XAxisPicker } from '../components/experiments/Estimates';
import { GroupKindBadge } from '../components/experiments/GroupKindBadge';
import { Card } from '../components/Layout';
import { Link } from '../components/Link';
import { Empty, ErrorState, Loading } from '../components/States';
import { useApi } from '../hooks/useApi';
import { bandChart, type Line } from '../lib/bands';
import { formatProbability } from '../lib/estimates';
import { formatInt, formatPercent } from '../lib/format';
import { curveLines, parseXAxis, xAxisLabel, xTickFormat } from '../lib/groups';
import { navigate, paths } from '../lib/router';
import { MAX_COMPARE_GROUPS } from './GroupsPage';

const color = (i: number) => PALETTE[i % PALETTE.length]!;

export function GroupsComparePage({ groupIds, search }: { groupIds: string[]; search: string }) {
  const x = parseXAxis(new URLSearchParams(search).get('x'));
  const valid = groupIds.length >= 2 && groupIds.length <= MAX_COMPARE_GROUPS;
  const compare = useApi<GroupsCompare>(valid ? api.compareGroups(groupIds, { x }) : null);
  const data = compare.data;

  const groups = data?.groups ?? [];
  const colorOf = useMemo(() => new Map(groups.map((g, i) => [g.group.id, color(i)])), [groups]);
  const nameOf = useMemo(() => new Map(groups.map((g) => [g.group.id, g.group.name])), [groups]);
  const curves = useMemo(() => {
    const lines: Line[] = groups.flatMap((g, i) =>
      curveLines(g.curve, color(i), `${g.group.name} `, { withMean: false }),
    );
    return bandChart(lines, steppedPath);
  }, [groups]);
  const profiles = useMemo(() => {
    const lines: Line[] = (data?.profiles ?? []).map((p) => ({
      label: nameOf.get(p.group_id) ?? p.group_id,
      color: colorOf.get(p.group_id) ?? '#4b5563',
      x: p.points.map((pt) => pt.tau),
      y: p.points.map((pt) => pt.fraction.value),
      band: {
        lower: p.points.map((pt) => pt.fraction.low),
        upper: p.points.map((pt) => pt.fraction.high),
        label: `${nameOf.get(p.group_id) ?? p.group_id} 95% CI`,
      },
      stepped: true,
    }));
    return bandChart(lines, steppedPath);
  }, [data, nameOf, colorOf]);

  if (!valid) {
    return (
      <div className="page">
        <h1>Compare groups</h1>
        <Empty title={`Pick 2 to ${MAX_COMPARE_GROUPS} groups to compare`}>
          Tick them in the <Link href={paths.groups()}>groups list</Link>, then press Compare.
        </Empty>
      </div>
    );
  }
  if (compare.error) return <ErrorState error={compare.error} what="Comparison" />;
  if (data === null) return <Loading label="Loading the groups…" />;

  const setX = (nx: XAxis) => {
    const q = new URLSearchParams();
    for (const id of groupIds) q.append('group', id);
    if (nx !== 'episode') q.set('x', nx);
    navigate(`/groups/compare?${q.toString()}`, { replace: true });
  };
  const digits = scoreDigits(groups.map((g) => g.final_scores));
  const scoreRows = SCORE_ROWS.filter((r) => groups.some((g) => g.final_scores?.[r.key]));

  return (
    <div className="page">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link href={paths.groups()}>Groups</Link>
        <span aria-hidden="true">/</span>
        <span>Compare</span>
      </nav>
      <div className="page-header">
        <div>
          <h1>Compare {groups.length} groups</h1>
        </div>
      </div>

      <Card title="Groups and their final scores">
        <div className="table-wrap">
          <table className="table" data-testid="compare-groups">
            <thead>
              <tr>
                <th />
                <th>Group</th>
                <th>Kind</th>
                <th className="num">Runs</th>
                {scoreRows.map((r) => (
                  <th key={r.key} title={r.hint}>
                    {r.label} [95% CI]
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {groups.map((g, i) => (
                <tr key={g.group.id} data-group-id={g.group.id}>
                  <td>
                    <span className="swatch" style={{ background: color(i) }} />
                  </td>
                  <td>
                    <Link href={paths.group(g.group.id)}>{g.group.name}</Link>
                  </td>
                  <td>
                    <GroupKindBadge kind={g.group.kind} />
                  </td>
                  <td className="num">{formatInt(g.group.runs)}</td>
                  {scoreRows.map((r) => (
                    <td key={r.key} data-score={r.key}>
                      <EstimateText estimate={g.final_scores?.[r.key]} digits={digits} />
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>

      <Card title="Learning curves" actions={<XAxisPicker value={x} onChange={setX} />}>
        <div className={compare.loading ? 'is-refreshing' : undefined}>
          <Chart
            name="groups-curves"
            data={curves.data}
            series={curves.series}
            bands={curves.bands}
            height={340}
            xLabel={xAxisLabel(x)}
            yLabel="Episode reward (IQM)"
            xTick={xTickFormat(x)}
            loading={compare.loading}
            empty="These groups have no finished episodes yet"
          />
        </div>
        <div className="chart-foot">
          <span className="muted small">IQM across each group's runs with its 95% bootstrap confidence band</span>
        </div>
      </Card>

      <Card title="Performance profiles">
        <Chart
          name="performance-profiles"
          data={profiles.data}
          series={profiles.series}
          bands={profiles.bands}
          height={300}
          xLabel="Score τ"
          yLabel="Fraction of runs with score > τ"
          xTick={(v) => String(Number(v.toPrecision(3)))}
          yTick={(v) => formatPercent(v, 0)}
          scales={{ y: { range: [0, 1] } }}
          empty="No run has a score yet"
        />
        <div className="chart-foot">
          <span className="muted small">
            A curve above another is better at every threshold · bands: 95% bootstrap confidence intervals
          </span>
        </div>
      </Card>

      {data.notes.length > 0 && (
        <div className="banner" data-testid="compare-notes">
          {data.notes.join(' ')}
        </div>
      )}

      <Card title="Probability of improvement">
        {data.improvements.length === 0 ? (
          <Empty title="No pair of groups has scores to compare" />
        ) : (
          <>
            <table className="table table-compact" data-testid="improvements">
              <thead>
                <tr>
                  <th>X</th>
                  <th>Y</th>
                  <th>P(X &gt; Y) [95% CI]</th>
                </tr>
              </thead>
              <tbody>
                {data.improvements.map((imp) => {
                  const a = nameOf.get(imp.x) ?? imp.x;
                  const b = nameOf.get(imp.y) ?? imp.y;
                  const p = imp.probability;
                  return (
                    <tr key={`${imp.x}>${imp.y}`} data-x={imp.x} data-y={imp.y}>
                      <td>
                        <span className="swatch" style={{ background: colorOf.get(imp.x) }} /> {a}
                      </td>
                      <td>
                        <span className="swatch" style={{ background: colorOf.get(imp.y) }} /> {b}
                      </td>
                      <td className="estimate" data-testid="improvement">
                        P({a} &gt; {b}) = {formatProbability(p.value, p.low, p.high)}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            <p className="muted small">
              The probability that a run of X scores higher than a run of Y (ties count half), with a 95% bootstrap
              interval over each group's runs. Above 0.5: X tends to do better.
            </p>
          </>
        )}
      </Card>
    </div>
  );
}
