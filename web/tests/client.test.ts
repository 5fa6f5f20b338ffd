import { describe, expect, it } from 'vitest';
import {
  ApiError,
  apiUrl,
  DEFAULT_RETRY_MS,
  errorDetail,
  getJson,
  parseRetryAfter,
  retryDelayMs,
  totalCount,
} from '../src/api/client';

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  return async () =>
    new Response(typeof body === 'string' ? body : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json', ...headers },
    });
}

describe('getJson', () => {
  it('returns the body and the headers of a success', async () => {
    const answer = await getJson<{ a: number }>('/x', undefined, respond(200, { a: 1 }, { 'X-Total-Count': '42' }));
    expect(answer.data).toEqual({ a: 1 });
    expect(totalCount(answer.headers)).toBe(42);
  });

  it('turns a 404 into an ApiError with the detail', async () => {
    const err = await getJson('/x', undefined, respond(404, { detail: 'no run abc' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const apiError = err as ApiError;
    expect(apiError.status).toBe(404);
    expect(apiError.detail).toBe('no run abc');
    expect(apiError.notFound).toBe(true);
    expect(apiError.unavailable).toBe(false);
  });

  it('reads Retry-After from a 503 and marks it unavailable', async () => {
    const err = (await getJson(
      '/x',
      undefined,
      respond(503, { detail: 'database unavailable' }, { 'Retry-After': '7' }),
    ).catch((e: unknown) => e)) as ApiError;
    expect(err.unavailable).toBe(true);
    expect(err.retryAfterS).toBe(7);
    expect(retryDelayMs(err)).toBe(7000);
  });

  it('treats a network failure as unavailable, to be retried', async () => {
    const err = (await getJson('/x', undefined, async () => {
      throw new TypeError('Failed to fetch');
    }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(0);
    expect(err.unavailable).toBe(true);
    expect(retryDelayMs(err)).toBe(DEFAULT_RETRY_MS);
  });

  it('lets an abort through as an abort', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await getJson('/x', controller.signal, async (_url, init) => {
      init?.signal?.throwIfAborted();
      return new Response('{}');
    }).catch((e: unknown) => e);
    expect((err as DOMException).name).toBe('AbortError');
  });

  it('keeps the status of an error whose body is not JSON', async () => {
    const err = (await getJson(
      '/x',
      undefined,
      async () => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    ).catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(502);
    expect(err.detail).toBe('Bad Gateway');
    expect(err.unavailable).toBe(true);
  });

  it('refuses a success that is not JSON', async () => {
    const err = (await getJson('/x', undefined, async () => new Response('not json', { status: 200 })).catch(
      (e: unknown) => e,
    )) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.unavailable).toBe(false);
  });
});

describe('Retry-After', () => {
  it('parses seconds and HTTP dates', () => {
    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:27:00 GMT', now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('')).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
  });
  it('bounds the delay', () => {
    expect(retryDelayMs(new ApiError(503, 'x', 0))).toBe(500);
    expect(retryDelayMs(new ApiError(503, 'x', 3600))).toBe(60_000);
    expect(retryDelayMs(new ApiError(503, 'x', null))).toBe(DEFAULT_RETRY_MS);
  });
});

describe('errorDetail', () => {
  it('reads the API error body, and falls back on anything else', () => {
    expect(errorDetail({ detail: 'bad' }, 'f')).toBe('bad');
    expect(errorDetail({ detail: [{ msg: 'too long' }] }, 'f')).toBe('f');
    expect(errorDetail({ detail: '' }, 'f')).toBe('f');
    expect(errorDetail(null, 'fallback')).toBe('fallback');
    expect(errorDetail({ other: 1 }, 'fallback')).toBe('fallback');
  });
});

describe('apiUrl and totalCount', () => {
  it('leaves out empty parameters and joins lists with commas', () => {
    expect(apiUrl('/api/x')).toBe('/api/x');
    expect(apiUrl('/api/x', { a: '', b: null, c: undefined, d: 0, e: false })).toBe('/api/x?d=0&e=false');
    expect(apiUrl('/api/compare', { run_ids: ['a', 'b'] })).toBe('/api/compare?run_ids=a%2Cb');
    expect(apiUrl('/api/x', { keys: [] })).toBe('/api/x');
    expect(apiUrl('/api/x', { q: 'a b&c' })).toBe('/api/x?q=a+b%26c');
  });
  it('reads X-Total-Count only when it is a count', () => {
    expect(totalCount(new Headers())).toBeNull();
    expect(totalCount(new Headers({ 'X-Total-Count': 'many' }))).toBeNull();
    expect(totalCount(new Headers({ 'X-Total-Count': '0' }))).toBe(0);
  });
});
