// Which metrics to show first: the training metric charted by default, the episode-metric
// columns of the episodes table.
import { isNum } from './format';

/** Training metrics charted first when a run has them (SB3 and CleanRL-style names). */
const PREFERRED_TRAINING = [
  'train/loss',
  'losses/td_loss',
  'train/value_loss',
  'train/policy_gradient_loss',
  'rollout/ep_rew_mean',
];

export function pickDefaultMetric(keys: readonly string[]): string | null {
  for (const key of PREFERRED_TRAINING) if (keys.includes(key)) return key;
  return keys[0] ?? null;
}

/** Episode metrics that get a column first (the trading environment's). */
const PREFERRED_EPISODE = ['pnl', 'sharpe_ratio', 'max_drawdown', 'win_rate', 'trades_count'];

/** The numeric episode metrics worth a column: the preferred ones first, then the others by
 * name, at most ``max``. */
export function metricColumns(items: readonly { metrics: Record<string, unknown> }[], max = 4): string[] {
  const numeric = new Set<string>();
  for (const e of items) {
    for (const [k, v] of Object.entries(e.metrics ?? {})) if (isNum(v)) numeric.add(k);
  }
  const preferred = PREFERRED_EPISODE.filter((k) => numeric.has(k));
  const others = [...numeric].filter((k) => !PREFERRED_EPISODE.includes(k)).sort();
  return [...preferred, ...others].slice(0, max);
}
