import { describe, expect, it } from 'vitest';
import {
  DEFAULT_QUERY,
  hasFilters,
  queryFromSearch,
  queryToApi,
  queryToSearch,
  sortDirection,
  toggleSort,
} from '../src/lib/runsQuery';

describe('runs query in the URL', () => {
  it('reads filters, sort, page and size', () => {
    const q = queryFromSearch(
      '?q=cart&status=running&agent_id=a1&algorithm=ppo&env=CartPole-v1&tag=demo&sort=name&page=3&limit=50',
    );
    expect(q).toEqual({
      q: 'cart',
      status: 'running',
      agent_id: 'a1',
      algorithm: 'ppo',
      env: 'CartPole-v1',
      tag: 'demo',
      sort: 'name',
      page: 2,
      limit: 50,
    });
  });
  it('falls back to the defaults on values it does not know', () => {
    expect(queryFromSearch('?sort=bogus&page=-4&limit=7')).toEqual(DEFAULT_QUERY);
    expect(queryFromSearch('')).toEqual(DEFAULT_QUERY);
  });
  it('round-trips and leaves the defaults out', () => {
    expect(queryToSearch(DEFAULT_QUERY)).toBe('');
    const q = { ...DEFAULT_QUERY, status: 'failed', sort: '-episodes', page: 1 };
    expect(queryToSearch(q)).toBe('status=failed&sort=-episodes&page=2');
    expect(queryFromSearch(queryToSearch(q))).toEqual(q);
  });
  it('gives the API an offset', () => {
    const params = queryToApi({ ...DEFAULT_QUERY, page: 2, limit: 50, tag: 'x' });
    expect(params.offset).toBe(100);
    expect(params.limit).toBe(50);
    expect(params.tag).toBe('x');
    expect(params.sort).toBe('-start_time');
  });
  it('knows when a filter is set', () => {
    expect(hasFilters(DEFAULT_QUERY)).toBe(false);
    expect(hasFilters({ ...DEFAULT_QUERY, sort: 'name', page: 3 })).toBe(false);
    expect(hasFilters({ ...DEFAULT_QUERY, env: 'x' })).toBe(true);
  });
});

describe('sorting', () => {
  it('flips the direction of the current column', () => {
    expect(toggleSort('-episodes', 'episodes')).toBe('episodes');
    expect(toggleSort('episodes', 'episodes')).toBe('-episodes');
  });
  it('starts a new column descending, names ascending', () => {
    expect(toggleSort('-start_time', 'mean_reward')).toBe('-mean_reward');
    expect(toggleSort('-start_time', 'name')).toBe('name');
  });
  it('tells the direction of a column', () => {
    expect(sortDirection('-duration', 'duration')).toBe('desc');
    expect(sortDirection('duration', 'duration')).toBe('asc');
    expect(sortDirection('duration', 'name')).toBeNull();
  });
});
