import { describe, expect, it } from 'vitest';
import { flattenConfig, keyParams } from '../src/lib/config';
import { metricColumns, pickDefaultMetric } from '../src/lib/metrics';

const CONFIG = {
  algo: 'ppo',
  env: 'CartPole-v1',
  total_timesteps: 30000,
  hyperparams: {
    learning_rate: 0.0003,
    gamma: 0.99,
    n_steps: 256,
    policy_kwargs: { net_arch: { pi: [64], vf: [64] } },
  },
  logging: { gamma: 'not this one' },
  tags: ['demo'],
};

describe('config', () => {
  it('flattens to dotted keys with lists as leaves', () => {
    const flat = Object.fromEntries(flattenConfig(CONFIG));
    expect(flat['hyperparams.learning_rate']).toBe(0.0003);
    expect(flat['hyperparams.policy_kwargs.net_arch.pi']).toEqual([64]);
    expect(flat.tags).toEqual(['demo']);
    expect(flattenConfig({})).toEqual([]);
    expect(flattenConfig({ empty: {} })).toEqual([['empty', {}]]);
  });

  it('finds the key hyperparameters at any depth, in a stable order, whole', () => {
    const keys = keyParams(CONFIG);
    expect(keys.map(([k]) => k)).toEqual([
      'algo',
      'env',
      'total_timesteps',
      'hyperparams.learning_rate',
      'hyperparams.gamma',
      'hyperparams.n_steps',
      'hyperparams.policy_kwargs.net_arch',
    ]);
    expect(Object.fromEntries(keys)['hyperparams.policy_kwargs.net_arch']).toEqual({ pi: [64], vf: [64] });
  });
});

describe('metric choices', () => {
  it('charts the loss first when there is one', () => {
    expect(pickDefaultMetric(['time/fps', 'train/loss', 'rollout/ep_rew_mean'])).toBe('train/loss');
    expect(pickDefaultMetric(['time/fps'])).toBe('time/fps');
    expect(pickDefaultMetric([])).toBeNull();
  });

  it('gives columns to numeric episode metrics, trading ones first', () => {
    const items = [
      { metrics: { zeta: 1, pnl: 2.5, label: 'x', alpha: 0.1 } },
      { metrics: { sharpe_ratio: 1.2, flag: true, nan: null } },
    ];
    expect(metricColumns(items)).toEqual(['pnl', 'sharpe_ratio', 'alpha', 'zeta']);
    expect(metricColumns(items, 2)).toEqual(['pnl', 'sharpe_ratio']);
    expect(metricColumns([])).toEqual([]);
  });
});
