// The runs list's filters, sort and page: kept in the URL's query string so that a filtered
// list can be reloaded, shared and gone back to.
import type { QueryValue } from '../api/client';

export const SORT_FIELDS = ['start_time', 'name', 'duration', 'episodes', 'mean_reward'] as const;
export type SortField = (typeof SORT_FIELDS)[number];
export const RUN_STATUSES = ['running', 'completed', 'stopped', 'failed'] as const;
export const PAGE_SIZES = [25, 50, 100] as const;

export interface RunsQuery {
  q: string;
  status: string;
  agent_id: string;
  algorithm: string;
  env: string;
  tag: string;
  sort: string;
  page: number;
  limit: number;
}

export const DEFAULT_QUERY: RunsQuery = {
  q: '',
  status: '',
  agent_id: '',
  algorithm: '',
  env: '',
  tag: '',
  sort: '-start_time',
  page: 0,
  limit: 25,
};

const TEXT_KEYS = ['q', 'status', 'agent_id', 'algorithm', 'env', 'tag'] as const;

function isSort(value: string): boolean {
  const field = value.startsWith('-') ? value.slice(1) : value;
  return (SORT_FIELDS as readonly string[]).includes(field);
}

export function queryFromSearch(search: string): RunsQuery {
  const params = new URLSearchParams(search);
  const query: RunsQuery = { ...DEFAULT_QUERY };
  for (const key of TEXT_KEYS) query[key] = params.get(key)?.trim() ?? '';
  const sort = params.get('sort');
  if (sort && isSort(sort)) query.sort = sort;
  const page = Number(params.get('page'));
  if (Number.isInteger(page) && page > 1) query.page = page - 1;
  const limit = Number(params.get('limit'));
  if ((PAGE_SIZES as readonly number[]).includes(limit)) query.limit = limit;
  return query;
}

/** The query string of ``query`` without its defaults ("" for the default list). */
export function queryToSearch(query: RunsQuery): string {
  const params = new URLSearchParams();
  for (const key of TEXT_KEYS) if (query[key]) params.set(key, query[key]);
  if (query.sort !== DEFAULT_QUERY.sort) params.set('sort', query.sort);
  if (query.page > 0) params.set('page', String(query.page + 1));
  if (query.limit !== DEFAULT_QUERY.limit) params.set('limit', String(query.limit));
  return params.toString();
}

/** Parameters of `GET /api/training-runs` for ``query``. */
export function queryToApi(query: RunsQuery, listPoints = 40): Record<string, QueryValue> {
  return {
    q: query.q,
    status: query.status,
    agent_id: query.agent_id,
    algorithm: query.algorithm,
    env: query.env,
    tag: query.tag,
    sort: query.sort,
    offset: query.page * query.limit,
    limit: query.limit,
    list_points: listPoints,
  };
}

export function hasFilters(query: RunsQuery): boolean {
  return TEXT_KEYS.some((key) => query[key] !== '');
}

/** Clicking a column: the same field flips direction; a new one starts descending, except
 * the name, which starts A→Z. */
export function toggleSort(current: string, field: SortField): string {
  if (current === field) return `-${field}`;
  if (current === `-${field}`) return field;
  return field === 'name' ? field : `-${field}`;
}

export function sortDirection(current: string, field: string): 'asc' | 'desc' | null {
  if (current === field) return 'asc';
  if (current === `-${field}`) return 'desc';
  return null;
}
