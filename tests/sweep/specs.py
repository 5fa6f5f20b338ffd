"""The sweep file the sweep tests (tests/sweep, and the dashboard's in tests/e2e) run."""

from __future__ import annotations


def cartpole_lr_spec(name: str) -> str:
    """Random sampling with seed 5 draws the learning rates 1e-5, 1e-2, 3e-3, 7e-6, 9e-5,
    2e-5: the two trials the median pruner starts from hold a good one, so the tiny rates
    trail it and are pruned."""
    return f"""\
algo: ppo
env: CartPole-v1
mode: smoke
total_timesteps: 2048
seed: 0
sweep:
  name: {name}
  sampler: random
  seed: 5
  pruner: {{type: median, n_startup_trials: 2, n_warmup_steps: 512}}
  report_every: 256
  params:
    hyperparams.learning_rate: {{type: float, low: 1.0e-6, high: 3.0e-2, log: true}}
    hyperparams.n_steps: {{type: categorical, choices: [64, 128]}}
"""
