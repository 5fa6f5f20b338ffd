// The runs list: filters, sort, status, duration, episodes, final metrics, pages, compare; its
// rows grouped under their groups on request.
import { Fragment, useMemo, useState } from 'react';
import { totalCount } from '../api/client';
import { api } from '../api/routes';
import type { GroupSummary } from '../api/types';
import type { RunSummary } from '../api/types';
import { CompareActions } from '../components/CompareActions';
import { GroupKindBadge } from '../components/experiments/GroupKindBadge';
import { DebouncedInput, Pager } from '../components/Inputs';
import { Link } from '../components/Link';
import { SortHeader } from '../components/Layout';
import { Sparkline } from '../components/Sparkline';
import { Empty, ErrorState, Loading } from '../components/States';
import { StatusBadge } from '../components/StatusBadge';
import { useApi } from '../hooks/useApi';
import { useNow } from '../hooks/useNow';
import { useRunEvents } from '../hooks/useRunEvents';
import { useRunGroups } from '../hooks/useRunGroups';
import {
  formatDateTime,
  formatDuration,
  formatInt,
  formatNumber,
  formatPercent,
  formatRelative,
  secondsBetween,
  shortId,
} from '../lib/format';
import { navigate, paths } from '../lib/router';
import {
  DEFAULT_QUERY,
  hasFilters,
  PAGE_SIZES,
  queryFromSearch,
  queryToApi,
  queryToSearch,
  RUN_STATUSES,
  type RunsQuery,
  type SortField,
  sortDirection,
  toggleSort,
} from '../lib/runsQuery';
import { pageRange } from '../lib/paging';
import { sectionsByGroup } from '../lib/groups';

const MAX_COMPARE = 8;
const GROUP_BY_KEY = 'rltrack.runs.groupByGroup';
const COLUMNS = 12;

function storedGroupBy(): boolean {
  try {
    return window.localStorage.getItem(GROUP_BY_KEY) === 'true';
  } catch {
    return false;
  }
}

export function RunDuration({ run, now }: { run: RunSummary; now: number }) {
  if (run.status === 'running') {
    return (
      <span className="running-duration" data-testid="running-duration">
        Running… {formatDuration(secondsBetween(run.start_time, null, now))}
      </span>
    );
  }
  return <>{formatDuration(run.duration_s ?? secondsBetween(run.start_time, run.end_time))}</>;
}

export function RunsPage({ search }: { search: string }) {
  const query = useMemo(() => queryFromSearch(search), [search]);
  const runs = useApi<RunSummary[]>(api.runs(queryToApi(query)));
  const agents = useApi<{ agent_ids: string[] }>(api.agents());
  const [selected, setSelected] = useState<string[]>([]);
  const [groupBy, setGroupByState] = useState(storedGroupBy);
  // Read again when the runs listed name other groups (a new group), not on every live refresh.
  const groupIds = [...new Set((runs.data ?? []).map((r) => r.group_id ?? ''))].sort().join(',');
  const runGroups = useRunGroups(groupBy, groupIds);
  const setGroupBy = (on: boolean) => {
    setGroupByState(on);
    try {
      window.localStorage.setItem(GROUP_BY_KEY, String(on));
    } catch {
      // Private mode: the choice lasts as long as the page.
    }
  };
  const live = useRunEvents(true, undefined, () => runs.reload(), 2000);
  const anyRunning = runs.data?.some((r) => r.status === 'running') ?? false;
  const now = useNow(anyRunning);

  const update = (patch: Partial<RunsQuery>, replace = false) => {
    const next = { ...query, page: 0, ...patch };
    navigate(paths.runs(queryToSearch(next)), { replace });
  };
  const sortBy = (field: SortField) => update({ sort: toggleSort(query.sort, field) });
  const toggle = (id: string) => setSelected((ids) => (ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id]));

  const rows = runs.data ?? [];
  const total = runs.headers ? totalCount(runs.headers) : null;
  const knownTotal = total ?? query.page * query.limit + rows.length;
  const canNext = total !== null ? (query.page + 1) * query.limit < total : rows.length === query.limit;
  const filtered = hasFilters(query);
  const sections = useMemo(() => {
    const known = runGroups.data;
    return sectionsByGroup(rows, (r) => r.group_id ?? undefined, known ?? new Map<string, GroupSummary>());
  }, [rows, runGroups.data]);
  const grouped = groupBy && runGroups.data !== null;
  const header = (label: string, field: SortField, numeric = false) => (
    <SortHeader
      label={label}
      numeric={numeric}
      direction={sortDirection(query.sort, field)}
      onClick={() => sortBy(field)}
    />
  );

  const renderRow = (run: RunSummary) => (
    <tr key={run.id} data-run-id={run.id} className={selected.includes(run.id) ? 'selected' : undefined}>
      <td className="check">
        <input
          type="checkbox"
          aria-label={`Select ${run.name} to compare`}
          checked={selected.includes(run.id)}
          onChange={() => toggle(run.id)}
        />
      </td>
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td className="name-cell">
        <Link href={paths.run(run.id)} className="run-link">
          {run.name}
        </Link>
        <div className="cell-sub">
          <span className="mono">{shortId(run.id)}</span>
          {run.tags?.map((t) => (
            <span className="tag" key={t}>
              {t}
            </span>
          ))}
        </div>
      </td>
      <td>{run.agent_id ?? <span className="muted">—</span>}</td>
      <td>{run.algorithm}</td>
      <td>{run.env_id}</td>
      <td title={formatDateTime(run.start_time)}>{formatRelative(run.start_time, now)}</td>
      <td className="num">
        <RunDuration run={run} now={now} />
      </td>
      <td className="num" data-testid="run-episodes">
        {formatInt(run.episodes)}
      </td>
      <td className="num">{formatNumber(run.stats?.mean_reward, 2)}</td>
      <td className="num">{formatPercent(run.stats?.last_win_rate)}</td>
      <td>
        <Sparkline values={run.metrics.episodes.map((p) => p.total_reward)} />
      </td>
    </tr>
  );

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Runs</h1>
          <p className="subtitle">
            {total !== null ? `${formatInt(total)} run${total === 1 ? '' : 's'}` : ' '}
            <LiveDot state={live} />
          </p>
        </div>
        <CompareActions
          count={selected.length}
          max={MAX_COMPARE}
          noun="runs"
          testId="compare-button"
          onClear={() => setSelected([])}
          onCompare={() => navigate(paths.compare(selected))}
        />
      </div>

      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <DebouncedInput
          className="input input-search"
          aria-label="Search run names"
          placeholder="Search names…"
          type="search"
          value={query.q}
          onChange={(q) => update({ q }, true)}
        />
        <select
          className="input"
          aria-label="Status"
          value={query.status}
          onChange={(e) => update({ status: e.target.value })}
        >
          <option value="">All statuses</option>
          {RUN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <select
          className="input"
          aria-label="Agent"
          value={query.agent_id}
          onChange={(e) => update({ agent_id: e.target.value })}
        >
          <option value="">All agents</option>
          {(agents.data?.agent_ids ?? []).map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
          {query.agent_id && !(agents.data?.agent_ids ?? []).includes(query.agent_id) && (
            <option value={query.agent_id}>{query.agent_id}</option>
          )}
        </select>
        <DebouncedInput
          className="input"
          aria-label="Algorithm"
          placeholder="Algorithm"
          value={query.algorithm}
          onChange={(algorithm) => update({ algorithm }, true)}
        />
        <DebouncedInput
          className="input"
          aria-label="Environment"
          placeholder="Environment"
          value={query.env}
          onChange={(env) => update({ env }, true)}
        />
        <DebouncedInput
          className="input"
          aria-label="Tag"
          placeholder="Tag"
          value={query.tag}
          onChange={(tag) => update({ tag }, true)}
        />
        <label className="muted small group-by">
          <input
            type="checkbox"
            checked={groupBy}
            onChange={(e) => setGroupBy(e.target.checked)}
            data-testid="group-by-toggle"
          />{' '}
          Group by group
        </label>
        {groupBy && runGroups.error && (
          <span className="neg small" role="alert" data-testid="group-by-error">
            Could not read the groups: {runGroups.error.detail}
          </span>
        )}
        {groupBy && runGroups.data === null && runGroups.error === null && (
          <span className="muted small">Loading groups…</span>
        )}
        {filtered && (
          <button
            type="button"
            className="btn btn-ghost"
            onClick={() =>
              navigate(paths.runs(queryToSearch({ ...DEFAULT_QUERY, sort: query.sort, limit: query.limit })))
            }
          >
            Clear filters
          </button>
        )}
      </form>

      {runs.error ? (
        <ErrorState error={runs.error} what="Runs" />
      ) : runs.data === null ? (
        <Loading label="Loading runs…" />
      ) : rows.length === 0 ? (
        filtered ? (
          <Empty title="No runs match these filters">
            <button type="button" className="btn" onClick={() => navigate(paths.runs())}>
              Show all runs
            </button>
          </Empty>
        ) : (
          <Empty title="No runs yet">
            Train one and it shows up here as it runs: <code>rltrack train --config conf/demo.yaml</code>
          </Empty>
        )
      ) : (
        <div className={`table-wrap ${runs.loading ? 'is-refreshing' : ''}`}>
          <table className="table" data-testid="runs-table">
            <thead>
              <tr>
                <th className="check" aria-label="Select" />
                <th>Status</th>
                {header('Name', 'name')}
                <th>Agent</th>
                <th>Algorithm</th>
                <th>Environment</th>
                {header('Started', 'start_time')}
                {header('Duration', 'duration', true)}
                {header('Episodes', 'episodes', true)}
                {header('Avg reward', 'mean_reward', true)}
                <th className="num">Win rate</th>
                <th>Reward trend</th>
              </tr>
            </thead>
            <tbody>
              {grouped
                ? sections.map((section) => (
                    <Fragment key={section.groupId ?? ''}>
                      <GroupHeader
                        groupId={section.groupId}
                        group={section.group}
                        shown={section.rows.length}
                      />
                      {section.rows.map(renderRow)}
                    </Fragment>
                  ))
                : rows.map(renderRow)}
            </tbody>
          </table>
        </div>
      )}

      {rows.length > 0 && (
        <Pager
          label={pageRange(query.page, query.limit, rows.length, knownTotal)}
          canPrev={query.page > 0}
          canNext={canNext}
          onPrev={() => update({ page: query.page - 1 })}
          onNext={() => update({ page: query.page + 1 })}
          busy={runs.loading}
        >
          <label className="muted small">
            Per page{' '}
            <select
              className="input input-small"
              value={query.limit}
              onChange={(e) => update({ limit: Number(e.target.value) })}
            >
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
        </Pager>
      )}
    </div>
  );
}

/** The header row of a group's runs in the grouped list: its name (a link to its page), kind
 * and size; the runs in no group come last under "No group". */
function GroupHeader({
  groupId,
  group,
  shown,
}: {
  groupId: string | null;
  group: GroupSummary | null;
  shown: number;
}) {
  return (
    <tr className="group-row" data-group-id={groupId ?? ''} data-testid="group-header">
      <th colSpan={COLUMNS}>
        {groupId === null ? (
          <span>No group</span>
        ) : (
          <Link href={paths.group(groupId)}>{group?.name ?? shortId(groupId)}</Link>
        )}
        <span className="cell-sub">
          {group && <GroupKindBadge kind={group.kind} />}
          <span className="muted">
            {group && group.runs !== shown
              ? `${formatInt(shown)} of its ${formatInt(group.runs)} runs on this page`
              : `${formatInt(shown)} run${shown === 1 ? '' : 's'}`}
          </span>
        </span>
      </th>
    </tr>
  );
}

export function LiveDot({ state }: { state: string }) {
  if (state === 'off') return null;
  const text = state === 'live' ? 'Live' : state === 'polling' ? 'Refreshing every 5 s' : 'Connecting…';
  return (
    <span className={`live live-${state}`} data-testid="live-indicator" data-state={state}>
      <span className="live-dot" aria-hidden="true" />
      {text}
    </span>
  );
}
