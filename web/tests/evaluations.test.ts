import { describe, expect, it } from 'vitest';
import type { Checkpoint, Evaluation } from '../src/api/types';
import { evaluationCurve, evaluationStep } from '../src/lib/evaluations';

function evaluation(id: number, over: Partial<Evaluation>): Evaluation {
  return {
    id, checkpoint_id: null, checkpoint_path: null, episodes: 10, mean_reward: 100,
    std_reward: 10, win_rate: null, mean_length: 100, opponent: 'agent', metrics: {},
    created_at: `2026-11-22T10:00:0${id}Z`, ...over,
  };
}

const checkpoints = [
  { id: 7, timestep: 2000 } as Checkpoint,
  { id: 8, timestep: 4000 } as Checkpoint,
];

describe('evaluationStep', () => {
  it("reads the checkpoint's timestep, else the one the evaluation recorded", () => {
    expect(evaluationStep(evaluation(1, { checkpoint_id: 8 }), checkpoints)).toBe(4000);
    expect(evaluationStep(evaluation(1, { metrics: { checkpoint_timestep: 500 } }), [])).toBe(500);
    expect(evaluationStep(evaluation(1, {}), checkpoints)).toBeNull();
  });
});

describe('evaluationCurve', () => {
  it('keeps the agent, one point per timestep (the newest), sorted, with mean ± std', () => {
    const curve = evaluationCurve(
      [
        evaluation(1, { checkpoint_id: 8, mean_reward: 400, std_reward: 20 }),
        evaluation(2, { checkpoint_id: 7, mean_reward: 150, std_reward: 5 }),
        evaluation(3, { checkpoint_id: 8, mean_reward: 480, std_reward: 0 }), // newer, same step
        evaluation(4, { opponent: 'buy_and_hold', metrics: { checkpoint_timestep: 1000 } }),
        evaluation(5, { mean_reward: 90 }), // no step known
      ],
      checkpoints,
    );
    expect(curve).toEqual({
      step: [2000, 4000],
      mean: [150, 480],
      low: [145, 480],
      high: [155, 480],
    });
  });
});
