import { describe, expect, it } from 'vitest';
import { bandChart } from '../src/lib/bands';
import { decimalsFor, formatEstimate, formatProbability } from '../src/lib/estimates';
import { sectionsByGroup } from '../src/lib/groups';
import { makeAxis, parallelLayout, position } from '../src/lib/parallel';
import { matchRoute, paths } from '../src/lib/router';

describe('estimates with intervals', () => {
  it('formats a value and its interval with the same decimals', () => {
    expect(formatEstimate(195.3, 180.1, 210.4)).toBe('195.3 [180.1, 210.4]');
    expect(formatEstimate(195.26, 180.14, 210.44, 1)).toBe('195.3 [180.1, 210.4]');
    expect(formatEstimate(0.5, 0.25, 0.75)).toBe('0.5000 [0.2500, 0.7500]');
    expect(formatEstimate(12345, 12000, 13000)).toBe('12345.0 [12000.0, 13000.0]');
  });
  it('leaves out an unknown interval and dashes an unknown value', () => {
    expect(formatEstimate(3.25, null, 4)).toBe('3.250');
    expect(formatEstimate(null, 1, 2)).toBe('—');
    expect(formatEstimate(Number.NaN, 1, 2)).toBe('—');
  });
  it('never shows a negative zero', () => {
    expect(formatEstimate(0.001, -0.0001, 0.01, 2)).toBe('0.00 [0.00, 0.01]');
  });
  it('gives probabilities two decimals', () => {
    expect(formatProbability(0.8333, 0.6111, 0.9722)).toBe('0.83 [0.61, 0.97]');
    expect(formatProbability(1, 1, 1)).toBe('1.00 [1.00, 1.00]');
  });
  it('picks decimals from the largest magnitude', () => {
    expect(decimalsFor(195.3)).toBe(1);
    expect(decimalsFor(0.0123)).toBe(4);
    expect(decimalsFor(12.5, -3)).toBe(2);
    expect(decimalsFor(null)).toBe(2);
  });
});

describe('parallel coordinates', () => {
  it('makes a linear axis over numbers', () => {
    const axis = makeAxis('gamma', [0.9, 0.99, null, 0.95]);
    expect(axis.kind).toBe('linear');
    expect(position(axis, 0.9)).toBe(0);
    expect(position(axis, 0.99)).toBe(1);
    expect(position(axis, 0.945)).toBeCloseTo(0.5);
    expect(position(axis, null)).toBeNull();
    expect(axis.ticks).toHaveLength(5);
  });
  it('makes a log axis over positive numbers spanning three decades', () => {
    const axis = makeAxis('lr', [1e-5, 1e-3, 1e-2]);
    expect(axis.kind).toBe('log');
    expect(position(axis, 1e-5)).toBe(0);
    expect(position(axis, 1e-2)).toBeCloseTo(1);
    expect(position(axis, 1e-3)).toBeCloseTo(2 / 3);
    expect(axis.ticks.map((t) => t.label)).toEqual(['1e-5', '1e-4', '0.001', '0.01']);
  });
  it('makes a categorical axis over anything else, sorted', () => {
    const axis = makeAxis('activation', ['tanh', 'relu', 'tanh', 'elu']);
    expect(axis.kind).toBe('category');
    expect(axis.categories).toEqual(['elu', 'relu', 'tanh']);
    expect(position(axis, 'relu')).toBe(0.5);
    expect(position(axis, 'gelu')).toBeNull();
  });
  it('puts a one-valued axis in the middle', () => {
    expect(position(makeAxis('n', [3, 3]), 3)).toBe(0.5);
    expect(position(makeAxis('c', ['a']), 'a')).toBe(0.5);
  });
  it('lays out each trial across the parameter axes and the objective last', () => {
    const layout = parallelLayout(
      [
        { number: 0, params: { lr: 0.1, act: 'relu' }, value: 10 },
        { number: 1, params: { lr: 0.3, act: 'tanh' }, value: 30 },
        { number: 2, params: { lr: 0.2, act: 'relu' }, value: null },
      ],
      ['lr', 'act'],
      'value',
    );
    expect(layout.axes.map((a) => a.name)).toEqual(['lr', 'act', 'value']);
    expect(layout.lines[0]!.at).toEqual([0, 0, 0]);
    expect(layout.lines[1]!.at).toEqual([1, 1, 1]);
    expect(layout.lines[2]!.at[0]).toBeCloseTo(0.5);
    expect(layout.lines[2]!.at[2]).toBeNull();
  });
});

describe('group routes', () => {
  it('matches the group, comparison and sweep pages', () => {
    expect(matchRoute('/groups')).toEqual({ page: 'groups' });
    expect(matchRoute('/groups/')).toEqual({ page: 'groups' });
    expect(matchRoute('/groups/abc')).toEqual({ page: 'group', groupId: 'abc' });
    expect(matchRoute('/groups/compare', '?group=a&group=b&group=a')).toEqual({
      page: 'groups-compare',
      groupIds: ['a', 'b'],
    });
    expect(matchRoute('/sweeps/s1')).toEqual({ page: 'sweep', groupId: 's1' });
  });
  it('builds paths that match back', () => {
    expect(matchRoute(paths.group('a b'))).toEqual({ page: 'group', groupId: 'a b' });
    const [path, search] = paths.compareGroups(['x&y', 'z']).split('?');
    expect(matchRoute(path!, `?${search}`)).toEqual({ page: 'groups-compare', groupIds: ['x&y', 'z'] });
    expect(matchRoute(paths.sweep('s/1'))).toEqual({ page: 'sweep', groupId: 's/1' });
  });
});

describe('curves with bands', () => {
  const stepped = () => () => null;
  it('puts each band after its line and fills between its edges', () => {
    const chart = bandChart(
      [
        { label: 'A', color: '#2563eb', x: [0, 10], y: [1, 2], band: { lower: [0.5, 1.5], upper: [1.5, 2.5] } },
        { label: 'B', color: '#dc2626', x: [5, 10], y: [3, 4] },
        { label: 'C', color: '#059669', x: [10], y: [5], band: { lower: [4], upper: [6], label: 'C CI' } },
      ],
      stepped,
    );
    expect(chart.series.map((s) => s.label)).toEqual([
      'A',
      'A CI upper',
      'A CI lower',
      'B',
      'C',
      'C CI upper',
      'C CI lower',
    ]);
    // uPlot counts the x values as series 0.
    expect(chart.bands.map((b) => b.series)).toEqual([
      [2, 3],
      [6, 7],
    ]);
    expect(chart.bands[0]!.fill).toBe('rgba(37, 99, 235, 0.18)');
    expect(chart.data[0]).toEqual([0, 5, 10]);
    expect(chart.data[1]).toEqual([1, null, 2]);
    expect(chart.data[2]).toEqual([1.5, null, 2.5]);
    expect(chart.data[4]).toEqual([null, 3, 4]);
    expect(chart.data[7]).toEqual([null, null, 4]);
  });
});

describe('runs under their groups', () => {
  const groups = new Map([
    ['g1', { name: 'one' }],
    ['g2', { name: 'two' }],
  ]);
  it('keeps the list order, one section per group, the runs in no group last', () => {
    const rows = [
      { id: 'a', g: null },
      { id: 'b', g: 'g2' },
      { id: 'c', g: 'g1' },
      { id: 'd', g: 'g2' },
      { id: 'e', g: 'g9' },
    ];
    const sections = sectionsByGroup(rows, (r) => r.g, groups);
    expect(sections.map((s) => [s.groupId, s.group?.name ?? null, s.rows.map((r) => r.id)])).toEqual([
      ['g2', 'two', ['b', 'd']],
      ['g1', 'one', ['c']],
      ['g9', null, ['e']],
      [null, null, ['a']],
    ]);
  });
  it('has no section for runs in no group when every run has one', () => {
    expect(sectionsByGroup([{ g: 'g1' }], (r) => r.g, groups).map((s) => s.groupId)).toEqual(['g1']);
    expect(sectionsByGroup([], () => null, groups)).toEqual([]);
  });
});
