import { describe, expect, it } from 'vitest';
import { matchRoute, paths, splitIds } from '../src/lib/router';

describe('routes', () => {
  it('matches the pages', () => {
    expect(matchRoute('/')).toEqual({ page: 'runs' });
    expect(matchRoute('/runs/')).toEqual({ page: 'runs' });
    expect(matchRoute('/runs/abc-123')).toEqual({ page: 'run', runId: 'abc-123' });
    expect(matchRoute('/runs/a%20b')).toEqual({ page: 'run', runId: 'a b' });
    expect(matchRoute('/episodes/42')).toEqual({ page: 'episode', episodeId: '42' });
    expect(matchRoute('/compare', '?run_ids=a,b,,a, c')).toEqual({ page: 'compare', runIds: ['a', 'b', 'c'] });
    expect(matchRoute('/compare')).toEqual({ page: 'compare', runIds: [] });
    expect(matchRoute('/nope/1')).toEqual({ page: 'not-found', path: '/nope/1' });
  });
  it('builds paths that match back', () => {
    expect(matchRoute(paths.run('x/y'))).toEqual({ page: 'run', runId: 'x/y' });
    const [path, search] = paths.compare(['a', 'b']).split('?');
    expect(matchRoute(path!, `?${search}`)).toEqual({ page: 'compare', runIds: ['a', 'b'] });
    expect(paths.runs('status=failed')).toBe('/?status=failed');
    expect(paths.runs()).toBe('/');
  });
  it('splits id lists without blanks or duplicates', () => {
    expect(splitIds(' a , b,a,,')).toEqual(['a', 'b']);
    expect(splitIds('')).toEqual([]);
  });
});
