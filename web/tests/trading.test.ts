import { describe, expect, it } from 'vitest';
import type { StepTrace, Trade } from '../src/api/types';
import { cumulative, isTrading, priceChartData, splitSteps, tradeReturn, tradeStats } from '../src/lib/trading';

const trade = (over: Partial<Trade>): Trade => ({
  seq: 0,
  direction: 'long',
  entry_step: 1,
  exit_step: 3,
  entry_time: null,
  exit_time: null,
  entry_price: 100,
  exit_price: 110,
  quantity: 1,
  pnl: 10,
  costs: 0.1,
  ...over,
});

const step = (s: number, price: number | null, value: number | null = null): StepTrace => ({
  step: s,
  action: 0,
  reward: 0,
  price,
  position: 0,
  portfolio_value: value,
});

describe('trading episodes', () => {
  it('are those with trades or traced prices', () => {
    expect(isTrading([], [])).toBe(false);
    expect(isTrading([], [step(0, null)])).toBe(false);
    expect(isTrading([], [step(0, 5)])).toBe(true);
    expect(isTrading([trade({})], [])).toBe(true);
  });

  it('split the per-step trace from a step count', () => {
    expect(splitSteps([step(0, 1)]).trace).toHaveLength(1);
    expect(splitSteps(120)).toEqual({ trace: [], stepCount: 120 });
    expect(splitSteps(null)).toEqual({ trace: [], stepCount: null });
  });

  it('put entries and exits on the price line at their steps', () => {
    const trace = [0, 1, 2, 3, 4].map((s) => step(s, 100 + s));
    const { x, ys } = priceChartData(trace, [
      trade({ entry_step: 1, exit_step: 3, entry_price: 101, exit_price: 103 }),
    ]);
    expect(x).toEqual([0, 1, 2, 3, 4]);
    expect(ys[0]).toEqual([100, 101, 102, 103, 104]);
    expect(ys[1]).toEqual([null, 101, null, null, null]);
    expect(ys[2]).toEqual([null, null, null, 103, null]);
  });

  it('add marker steps that a sampled trace lacks', () => {
    const { x, ys } = priceChartData(
      [step(0, 100), step(10, 110)],
      [trade({ entry_step: 5, exit_step: 7, entry_price: 105, exit_price: 107 })],
    );
    expect(x).toEqual([0, 5, 7, 10]);
    expect(ys[0]).toEqual([100, null, null, 110]);
    expect(ys[1]).toEqual([null, 105, null, null]);
  });

  it('draw the price from the trades when no price was traced', () => {
    const { x, ys } = priceChartData([], [trade({ entry_step: 2, exit_step: 4, entry_price: 50, exit_price: 55 })]);
    expect(x).toEqual([2, 4]);
    expect(ys[0]).toEqual([50, 55]);
  });

  it('sign returns by direction', () => {
    expect(tradeReturn(trade({ entry_price: 100, exit_price: 110 }))).toBeCloseTo(0.1);
    expect(tradeReturn(trade({ direction: 'short', entry_price: 100, exit_price: 90 }))).toBeCloseTo(0.1);
    expect(tradeReturn(trade({ entry_price: null }))).toBeNull();
    expect(tradeReturn(trade({ entry_price: 0 }))).toBeNull();
  });

  it('sum up the trades', () => {
    const stats = tradeStats([
      trade({ pnl: 10, costs: 1 }),
      trade({ pnl: -4, costs: 1 }),
      trade({ pnl: 2, costs: null }),
      trade({ pnl: null, costs: null }),
    ]);
    expect(stats.count).toBe(4);
    expect(stats.totalPnl).toBe(8);
    expect(stats.winners).toBe(2);
    expect(stats.winRate).toBeCloseTo(2 / 3);
    expect(stats.costs).toBe(2);
    expect(stats.best).toBe(10);
    expect(stats.worst).toBe(-4);
    expect(tradeStats([]).totalPnl).toBeNull();
  });

  it('accumulate rewards over gaps', () => {
    expect(cumulative([1, null, 2, -0.5])).toEqual([1, null, 3, 2.5]);
  });
});
