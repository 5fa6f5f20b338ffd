// A run's episodes: cursor pages, sortable columns, a status filter; rows open the episode.
import { useEffect, useMemo, useReducer, useState } from 'react';
import { api } from '../../api/routes';
import type { EpisodesPage } from '../../api/types';
import { useApi } from '../../hooks/useApi';
import { formatDateTime, formatInt, formatNumber, formatValue, formatWin } from '../../lib/format';
import { metricColumns } from '../../lib/metrics';
import { currentCursor, firstPage, hasNext, hasPrev, pageRange, pagingReducer } from '../../lib/paging';
import { paths } from '../../lib/router';
import { sortDirection } from '../../lib/runsQuery';
import { Pager } from '../Inputs';
import { SortHeader } from '../Layout';
import { Link } from '../Link';
import { Empty, ErrorState } from '../States';
import { StatusBadge } from '../StatusBadge';

const PAGE_SIZE = 25;
const STATUSES = ['completed', 'truncated', 'error', 'started'];
type SortField = 'index' | 'total_reward' | 'steps';

export function EpisodesTable({ runId, refresh }: { runId: string; refresh: number }) {
  const [status, setStatus] = useState('');
  const [sort, setSort] = useState('-index');
  const [paging, dispatch] = useReducer(pagingReducer, firstPage);
  const url = api.episodes(runId, { status, sort, cursor: currentCursor(paging), limit: PAGE_SIZE });
  const page = useApi<EpisodesPage>(url);

  useEffect(() => {
    if (page.data && page.loadedUrl === url) dispatch({ type: 'loaded', nextCursor: page.data.next_cursor });
  }, [page.data, page.loadedUrl, url]);
  useEffect(() => {
    if (refresh > 0) page.reload();
  }, [refresh]);

  const items = page.data?.items ?? [];
  const columns = useMemo(() => metricColumns(items), [items]);
  // Columns that no episode of the page fills are left out (no wins in CartPole, no epsilon
  // in PPO).
  const hasWin = items.some((e) => e.win !== null);
  const hasEpsilon = items.some((e) => e.epsilon !== null);
  // Episodes that count trades (the trading env's): the run's trades can be downloaded too.
  const trades = items.some((e) => typeof e.metrics?.['trades_count'] === 'number');
  const sortBy = (field: SortField) => {
    const next = sort === `-${field}` ? field : `-${field}`;
    setSort(next);
    dispatch({ type: 'reset' });
  };
  const header = (label: string, field: SortField) => (
    <SortHeader label={label} numeric direction={sortDirection(sort, field)} onClick={() => sortBy(field)} />
  );

  return (
    <div>
      <div className="toolbar">
        <label className="muted small">
          Status{' '}
          <select
            className="input input-small"
            aria-label="Episode status"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              dispatch({ type: 'reset' });
            }}
          >
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        {trades && (
          <a className="btn btn-small toolbar-end" href={api.exportRun(runId, 'csv', 'trades')} download data-testid="export-trades">
            Trades CSV
          </a>
        )}
      </div>
      {page.error ? (
        <ErrorState error={page.error} what="Episodes" />
      ) : page.data === null ? (
        <div className="state state-loading">Loading episodes…</div>
      ) : items.length === 0 ? (
        <Empty title={status ? `No ${status} episodes` : 'No episodes yet'} />
      ) : (
        <div className={`table-wrap ${page.loading ? 'is-refreshing' : ''}`}>
          <table className="table table-compact" data-testid="episodes-table">
            <thead>
              <tr>
                {header('Episode', 'index')}
                <th>Status</th>
                <th className="num">Env</th>
                <th>Started</th>
                {header('Steps', 'steps')}
                {header('Reward', 'total_reward')}
                {hasWin && <th className="num">Result</th>}
                {hasEpsilon && <th className="num">Epsilon</th>}
                {columns.map((c) => (
                  <th className="num" key={c}>
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id} data-episode-index={e.index}>
                  <td className="num">
                    <Link href={paths.episode(e.id)}>#{formatInt(e.index)}</Link>
                  </td>
                  <td>
                    <StatusBadge status={e.status} />
                  </td>
                  <td className="num">{e.env_slot}</td>
                  <td>{formatDateTime(e.start_time)}</td>
                  <td className="num">
                    {formatInt(e.steps)}
                    {e.drain_steps > 0 && (
                      <span className="muted small" title="Steps taken after training stopped, without learning">
                        {' '}
                        ({e.drain_steps} drained)
                      </span>
                    )}
                  </td>
                  <td className="num">{formatNumber(e.total_reward, 3)}</td>
                  {hasWin && <td className="num">{formatWin(e.win)}</td>}
                  {hasEpsilon && <td className="num">{formatNumber(e.epsilon, 3)}</td>}
                  {columns.map((c) => (
                    <td className="num" key={c}>
                      {formatValue(e.metrics?.[c])}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page.data && items.length > 0 && (
        <Pager
          label={pageRange(paging.index, PAGE_SIZE, items.length, page.data.total)}
          canPrev={hasPrev(paging)}
          canNext={hasNext(paging)}
          onPrev={() => dispatch({ type: 'prev' })}
          onNext={() => dispatch({ type: 'next' })}
          busy={page.loading}
        />
      )}
    </div>
  );
}
