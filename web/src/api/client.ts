// The API client: JSON GETs with typed errors. A 503 (database away) and a network failure are
// "unavailable" errors that callers retry, honouring Retry-After when the server sends it.

import { takePrefetched } from './prefetch';
import type { ApiErrorBody } from './types';

export const DEFAULT_RETRY_MS = 3000;
const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 60_000;

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  /** Seconds from the Retry-After header, when the server sent one. */
  readonly retryAfterS: number | null;

  constructor(status: number, detail: string, retryAfterS: number | null = null) {
    super(status === 0 ? detail : `${status}: ${detail}`);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
    this.retryAfterS = retryAfterS;
  }

  /** The server or its database cannot answer now; the same request may work later. */
  get unavailable(): boolean {
    return this.status === 0 || this.status === 503 || this.status === 502 || this.status === 504;
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (text === '') return null;
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, (at - now) / 1000);
}

/** How long to wait before retrying after ``error``: its Retry-After, else a few seconds. */
export function retryDelayMs(error: ApiError): number {
  if (error.retryAfterS === null) return DEFAULT_RETRY_MS;
  return Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, error.retryAfterS * 1000));
}

/** The `detail` of an error body: every error of the API is `{"detail": "<text>"}`
 * (ErrorPublic in its OpenAPI document). Anything else (a proxy's page) gives ``fallback``. */
export function errorDetail(body: unknown, fallback: string): string {
  if (body && typeof body === 'object' && 'detail' in body) {
    const detail = (body as Partial<ApiErrorBody>).detail;
    if (typeof detail === 'string' && detail !== '') return detail;
  }
  return fallback;
}

export type QueryValue = string | number | boolean | null | undefined | readonly string[];

/** ``path`` with the query parameters that have a value (lists become comma lists). */
export function apiUrl(path: string, params: Record<string, QueryValue> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    if (Array.isArray(value)) {
      if (value.length > 0) search.set(key, value.join(','));
    } else {
      search.set(key, String(value));
    }
  }
  const query = search.toString();
  return query ? `${path}?${query}` : path;
}

export interface ApiResponse<T> {
  data: T;
  headers: Headers;
}

export type Fetcher = (input: string, init?: RequestInit) => Promise<Response>;

const defaultFetcher: Fetcher = (input, init) => takePrefetched(input) ?? fetch(input, init);

export async function getJson<T>(
  url: string,
  signal?: AbortSignal,
  fetcher: Fetcher = defaultFetcher,
): Promise<ApiResponse<T>> {
  let response: Response;
  try {
    response = await fetcher(url, { signal, headers: { Accept: 'application/json' } });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'The rltrack server cannot be reached.');
  }
  if (!response.ok) {
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
    const fallback = response.statusText || `HTTP ${response.status}`;
    throw new ApiError(
      response.status,
      errorDetail(body, fallback),
      parseRetryAfter(response.headers.get('Retry-After')),
    );
  }
  try {
    return { data: (await response.json()) as T, headers: response.headers };
  } catch {
    throw new ApiError(response.status, 'The server answered something that is not JSON.');
  }
}

/** The X-Total-Count header as a number, or null. */
export function totalCount(headers: Headers): number | null {
  const value = headers.get('X-Total-Count');
  if (value === null) return null;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}
