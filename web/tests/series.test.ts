import { describe, expect, it } from 'vitest';
import {
  autoWindow,
  countKnown,
  drawdown,
  extent,
  joinSeries,
  maxDrawdown,
  movingAverage,
  toXY,
} from '../src/lib/series';

describe('toXY', () => {
  it('sorts by x, keeps one point per x and turns non-finite values into gaps', () => {
    const points = [
      { episode: 4, r: 1 },
      { episode: 1, r: 5 },
      { episode: 4, r: 1 }, // a downsampled bucket whose min and max are the same episode
      { episode: 2, r: Number.NaN },
      { episode: 3, r: null },
    ];
    const xy = toXY(
      points,
      (p) => p.episode,
      (p) => p.r,
    );
    expect(xy.x).toEqual([1, 2, 3, 4]);
    expect(xy.y).toEqual([5, null, null, 1]);
  });
  it('fills a gap from a later duplicate that has a value', () => {
    const xy = toXY(
      [
        { x: 1, y: null },
        { x: 1, y: 7 },
      ],
      (p) => p.x,
      (p) => p.y,
    );
    expect(xy).toEqual({ x: [1], y: [7] });
  });
  it('drops points without a usable x', () => {
    const xy = toXY(
      [
        { x: Number.NaN, y: 1 },
        { x: 2, y: 3 },
      ],
      (p) => p.x,
      (p) => p.y,
    );
    expect(xy).toEqual({ x: [2], y: [3] });
  });
});

describe('movingAverage', () => {
  it('averages the trailing window of x units', () => {
    const x = [0, 1, 2, 3, 4];
    const y = [1, 2, 3, 4, 5];
    expect(movingAverage(x, y, 2)).toEqual([1, 1.5, 2.5, 3.5, 4.5]);
    expect(movingAverage(x, y, 1)).toEqual(y);
    expect(movingAverage(x, y, 100)).toEqual([1, 1.5, 2, 2.5, 3]);
  });
  it('skips gaps instead of counting them as zero', () => {
    expect(movingAverage([0, 1, 2], [2, null, 4], 3)).toEqual([2, 2, 3]);
    expect(movingAverage([0, 1], [null, null], 5)).toEqual([null, null]);
  });
  it('works in episodes on an unevenly downsampled series', () => {
    // Buckets of 100 episodes, two points each: the window of 200 episodes holds 4 points.
    const x = [0, 99, 100, 199, 200, 299];
    const y = [0, 10, 20, 30, 40, 50];
    const avg = movingAverage(x, y, 200);
    expect(avg[5]).toBeCloseTo((20 + 30 + 40 + 50) / 4);
    expect(avg[1]).toBeCloseTo(5);
  });
  it('gives nothing for a non-positive window', () => {
    expect(movingAverage([0, 1], [1, 2], 0)).toEqual([null, null]);
  });
});

describe('autoWindow', () => {
  it('is 100 episodes for long runs and shorter for short ones', () => {
    expect(autoWindow(5000, 5000, false)).toBe(100);
    expect(autoWindow(200, 200, false)).toBe(10);
    expect(autoWindow(20, 20, false)).toBe(5);
  });
  it('spans at least ten buckets of a downsampled series', () => {
    // 1M episodes in 2000 points: 1000 buckets of 1000 episodes.
    expect(autoWindow(1_000_000, 2000, true)).toBe(10_000);
  });
});

describe('joinSeries', () => {
  it('aligns series on the union of their x values', () => {
    const joined = joinSeries([
      { x: [0, 2, 4], y: [1, 2, 3] },
      { x: [1, 2], y: [10, 20] },
    ]);
    expect(joined.x).toEqual([0, 1, 2, 4]);
    expect(joined.ys).toEqual([
      [1, null, 2, 3],
      [null, 10, 20, null],
    ]);
  });
  it('handles no series and empty ones', () => {
    expect(joinSeries([])).toEqual({ x: [], ys: [] });
    expect(joinSeries([{ x: [], y: [] }])).toEqual({ x: [], ys: [[]] });
  });
});

describe('drawdown', () => {
  it('is the fall from the running peak', () => {
    const dd = drawdown([100, 110, 99, 121, 60.5]);
    expect(dd[0]).toBe(0);
    expect(dd[1]).toBe(0);
    expect(dd[2]).toBeCloseTo(-0.1);
    expect(dd[3]).toBe(0);
    expect(dd[4]).toBeCloseTo(-0.5);
  });
  it('keeps unknown values unknown and carries the peak over them', () => {
    const dd = drawdown([100, null, 80]);
    expect(dd[1]).toBeNull();
    expect(dd[2]).toBeCloseTo(-0.2);
  });
  it('gives the largest drawdown as a positive fraction', () => {
    expect(maxDrawdown([100, 120, 90, 130, 117])).toBeCloseTo(0.25);
    expect(maxDrawdown([1, 2, 3])).toBe(0);
    expect(maxDrawdown([null])).toBeNull();
  });
});

describe('helpers', () => {
  it('finds the extent of known values', () => {
    expect(extent([3, null, -1, 7])).toEqual([-1, 7]);
    expect(extent([null])).toBeNull();
    expect(countKnown([1, null, 2])).toBe(2);
  });
});
