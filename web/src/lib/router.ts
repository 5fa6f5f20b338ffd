// History routing without a library: the location as React state, and the app's routes.
import { useSyncExternalStore } from 'react';

export type Route =
  | { page: 'runs' }
  | { page: 'run'; runId: string }
  | { page: 'episode'; episodeId: string }
  | { page: 'compare'; runIds: string[] }
  | { page: 'groups' }
  | { page: 'group'; groupId: string }
  | { page: 'groups-compare'; groupIds: string[] }
  | { page: 'sweep'; groupId: string }
  | { page: 'not-found'; path: string };

/** The route of a path and query string. */
export function matchRoute(pathname: string, search = ''): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/runs') return { page: 'runs' };
  let m = /^\/runs\/([^/]+)$/.exec(path);
  if (m) return { page: 'run', runId: decodeURIComponent(m[1]!) };
  m = /^\/episodes\/([^/]+)$/.exec(path);
  if (m) return { page: 'episode', episodeId: decodeURIComponent(m[1]!) };
  if (path === '/compare') {
    const ids = new URLSearchParams(search).get('run_ids') ?? '';
    return { page: 'compare', runIds: splitIds(ids) };
  }
  if (path === '/groups') return { page: 'groups' };
  if (path === '/groups/compare') {
    return { page: 'groups-compare', groupIds: uniqueIds(new URLSearchParams(search).getAll('group')) };
  }
  m = /^\/groups\/([^/]+)$/.exec(path);
  if (m) return { page: 'group', groupId: decodeURIComponent(m[1]!) };
  m = /^\/sweeps\/([^/]+)$/.exec(path);
  if (m) return { page: 'sweep', groupId: decodeURIComponent(m[1]!) };
  return { page: 'not-found', path: pathname };
}

function uniqueIds(ids: readonly string[]): string[] {
  return [...new Set(ids.map((id) => id.trim()).filter((id) => id !== ''))];
}

export function splitIds(text: string): string[] {
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const id = part.trim();
    if (id) seen.add(id);
  }
  return [...seen];
}

export const paths = {
  runs: (search = '') => (search ? `/?${search}` : '/'),
  run: (id: string) => `/runs/${encodeURIComponent(id)}`,
  episode: (id: number | string) => `/episodes/${encodeURIComponent(String(id))}`,
  compare: (ids: readonly string[]) => `/compare?run_ids=${ids.map(encodeURIComponent).join(',')}`,
  groups: () => '/groups',
  group: (id: string) => `/groups/${encodeURIComponent(id)}`,
  compareGroups: (ids: readonly string[]) =>
    `/groups/compare?${ids.map((id) => `group=${encodeURIComponent(id)}`).join('&')}`,
  sweep: (groupId: string) => `/sweeps/${encodeURIComponent(groupId)}`,
};

const NAVIGATE = 'rltrack:navigate';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAVIGATE, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAVIGATE, onChange);
  };
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

/** The current path + query string; re-renders on navigation. */
export function useLocation(): { pathname: string; search: string } {
  const href = useSyncExternalStore(subscribe, snapshot, snapshot);
  const q = href.indexOf('?');
  return q < 0 ? { pathname: href, search: '' } : { pathname: href.slice(0, q), search: href.slice(q) };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE));
  if (!options.replace) window.scrollTo(0, 0);
}
