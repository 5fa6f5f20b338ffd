// Evaluations of a run's checkpoints: the timestep each one played, and the curve of the agent's
// mean reward over those timesteps (what `rltrack evaluate --checkpoint all` records).
import type { Checkpoint, Evaluation } from '../api/types';

/** The timestep of the checkpoint an evaluation played: from the run's checkpoints, else the
 * `checkpoint_timestep` the evaluation recorded; null when neither says. */
export function evaluationStep(e: Evaluation, checkpoints: readonly Checkpoint[]): number | null {
  const recorded = checkpoints.find((c) => c.id === e.checkpoint_id);
  if (recorded) return recorded.timestep;
  const step = e.metrics['checkpoint_timestep'];
  return typeof step === 'number' && Number.isFinite(step) ? step : null;
}

export interface EvaluationCurve {
  step: number[];
  mean: number[];
  low: number[];
  high: number[];
}

/** The agent's evaluations (not the baselines) by checkpoint timestep: one point per timestep,
 * the newest evaluation there, with mean ± std. */
export function evaluationCurve(
  evaluations: readonly Evaluation[],
  checkpoints: readonly Checkpoint[],
): EvaluationCurve {
  const newest = new Map<number, Evaluation>();
  for (const e of evaluations) {
    if ((e.opponent ?? 'agent') !== 'agent' || e.mean_reward === null) continue;
    const step = evaluationStep(e, checkpoints);
    if (step === null) continue;
    const held = newest.get(step);
    if (!held || e.created_at > held.created_at) newest.set(step, e);
  }
  const steps = [...newest.keys()].sort((a, b) => a - b);
  const curve: EvaluationCurve = { step: [], mean: [], low: [], high: [] };
  for (const step of steps) {
    const e = newest.get(step)!;
    const mean = e.mean_reward!;
    const std = e.std_reward ?? 0;
    curve.step.push(step);
    curve.mean.push(mean);
    curve.low.push(mean - std);
    curve.high.push(mean + std);
  }
  return curve;
}
