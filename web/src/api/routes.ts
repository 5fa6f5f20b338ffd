// The API's URLs, in one place (docs/api.md).
import { apiUrl, type QueryValue } from './client';

const enc = encodeURIComponent;

export const api = {
  runs: (params: Record<string, QueryValue>) => apiUrl('/api/training-runs', params),
  agents: () => '/api/training-runs/agents/list',
  run: (id: string, maxPoints?: number) => apiUrl(`/api/training-runs/${enc(id)}`, { max_points: maxPoints }),
  episodes: (id: string, params: Record<string, QueryValue>) =>
    apiUrl(`/api/training-runs/${enc(id)}/episodes`, params),
  summary: (id: string, params: Record<string, QueryValue> = {}) =>
    apiUrl(`/api/training-runs/${enc(id)}/episodes/summary`, params),
  metrics: (id: string, keys: readonly string[], maxPoints?: number) =>
    apiUrl(`/api/training-runs/${enc(id)}/metrics`, { keys, max_points: maxPoints }),
  checkpoints: (id: string) => `/api/training-runs/${enc(id)}/checkpoints`,
  evaluations: (id: string) => `/api/training-runs/${enc(id)}/evaluations`,
  artifacts: (id: string) => `/api/training-runs/${enc(id)}/artifacts`,
  exportRun: (id: string, format: 'csv' | 'json' | 'parquet', table: 'episodes' | 'trades' = 'episodes') =>
    apiUrl(`/api/training-runs/${enc(id)}/export`, table === 'episodes' ? { format } : { format, table }),
  checkpointDownload: (id: number) => `/api/checkpoints/${id}/download`,
  episode: (id: number | string) => `/api/episodes/${enc(String(id))}`,
  episodeModel: (id: number | string) => `/api/v1/episodes/${enc(String(id))}/model`,
  compare: (ids: readonly string[]) => apiUrl('/api/compare', { run_ids: ids }),
  events: (runId?: string) => apiUrl('/api/events', { run_id: runId }),
  groups: () => '/api/groups',
  group: (id: string, params: Record<string, QueryValue> = {}) => apiUrl(`/api/groups/${enc(id)}`, params),
  /** ``group`` repeated, once per group, as the route takes them. */
  compareGroups: (ids: readonly string[], params: Record<string, QueryValue> = {}) => {
    const url = apiUrl('/api/groups/compare', params);
    const groups = ids.map((id) => `group=${enc(id)}`).join('&');
    return url.includes('?') ? `${url}&${groups}` : `${url}?${groups}`;
  },
  sweep: (groupId: string) => `/api/sweeps/${enc(groupId)}`,
};
