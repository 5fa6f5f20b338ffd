// Trading episodes: the price line and its trade markers, equity and trade statistics.
import type { StepTrace, Trade } from '../api/types';
import { joinSeries, toXY, type Num } from './series';

export interface EpisodeTrace {
  trace: StepTrace[];
  /** The episode's step count when the route gives it (as a number), else null. */
  stepCount: number | null;
}

/** `/api/episodes/{id}` names the per-step trace `steps`; other routes use it for the count. */
export function splitSteps(steps: unknown): EpisodeTrace {
  if (Array.isArray(steps)) return { trace: steps as StepTrace[], stepCount: null };
  return { trace: [], stepCount: typeof steps === 'number' ? steps : null };
}

export function isTrading(trades: readonly Trade[], trace: readonly StepTrace[]): boolean {
  return trades.length > 0 || trace.some((s) => s.price !== null && s.price !== undefined);
}

/** Price chart data: [x, price, entries, exits] on one x axis. Without a traced price, the
 * line joins the trades' own entry and exit prices. */
export function priceChartData(trace: readonly StepTrace[], trades: readonly Trade[]): { x: number[]; ys: Num[][] } {
  let price = toXY(
    trace,
    (s) => s.step,
    (s) => s.price,
  );
  if (!price.y.some((v) => v !== null)) {
    const points = trades.flatMap((t) => [
      { x: t.entry_step, y: t.entry_price },
      { x: t.exit_step, y: t.exit_price },
    ]);
    price = toXY(
      points,
      (p) => p.x,
      (p) => p.y,
    );
  }
  const entries = toXY(
    trades,
    (t) => t.entry_step,
    (t) => t.entry_price,
  );
  const exits = toXY(
    trades,
    (t) => t.exit_step,
    (t) => t.exit_price,
  );
  return joinSeries([price, entries, exits]);
}

/** A trade's return on its entry price, signed by direction (a short gains when price falls). */
export function tradeReturn(t: Trade): number | null {
  if (t.entry_price === null || t.exit_price === null || !t.entry_price) return null;
  const raw = t.exit_price / t.entry_price - 1;
  return t.direction === 'short' ? -raw : raw;
}

export interface TradeStats {
  count: number;
  totalPnl: number | null;
  winners: number;
  winRate: number | null;
  costs: number | null;
  best: number | null;
  worst: number | null;
}

export function tradeStats(trades: readonly Trade[]): TradeStats {
  const pnls = trades.map((t) => t.pnl).filter((p): p is number => p !== null && Number.isFinite(p));
  const costs = trades.map((t) => t.costs).filter((c): c is number => c !== null && Number.isFinite(c));
  const winners = pnls.filter((p) => p > 0).length;
  return {
    count: trades.length,
    totalPnl: pnls.length ? pnls.reduce((a, b) => a + b, 0) : null,
    winners,
    winRate: pnls.length ? winners / pnls.length : null,
    costs: costs.length ? costs.reduce((a, b) => a + b, 0) : null,
    best: pnls.length ? Math.max(...pnls) : null,
    worst: pnls.length ? Math.min(...pnls) : null,
  };
}

/** Cumulative sum with unknown values skipped (they add nothing and stay unknown). */
export function cumulative(values: readonly Num[]): Num[] {
  let total = 0;
  return values.map((v) => {
    if (v === null) return null;
    total += v;
    return total;
  });
}
