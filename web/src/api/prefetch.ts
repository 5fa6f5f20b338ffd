// The run page's chart data is requested by a small inline script in index.html as soon as the
// HTML arrives, while the app's JavaScript still loads; the app then takes that response
// instead of asking again. A prefetch is used once, and only soon after the page loaded.

export const PREFETCH_MAX_AGE_MS = 10_000;

export interface Prefetch {
  url: string;
  at: number;
  response: Promise<Response>;
}

declare global {
  interface Window {
    __rltrackPrefetch?: Prefetch;
  }
}

/** The prefetched response of ``url``, once; null when there is none (or it is too old). */
export function takePrefetched(url: string, now: number = Date.now()): Promise<Response> | null {
  if (typeof window === 'undefined') return null;
  const prefetch = window.__rltrackPrefetch;
  if (!prefetch) return null;
  if (now - prefetch.at > PREFETCH_MAX_AGE_MS) {
    delete window.__rltrackPrefetch;
    return null;
  }
  if (prefetch.url !== url) return null;
  delete window.__rltrackPrefetch;
  return prefetch.response;
}
