"""Stable-Baselines3 with rltrack: your own script, one callback.

python examples/sb3_callback.py --steps 20000
rltrack runs; rltrack episodes <run>; rltrack serve
"""

import argparse

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from rltrack.integrations.sb3 import TrackingCallback

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=20_000)
parser.add_argument("--envs", type=int, default=4)
parser.add_argument(
    "--db", default=None, help="database URL or SQLite path (default: RLTRACK_HOME)"
)
args = parser.parse_args()

env = make_vec_env("CartPole-v1", n_envs=args.envs, seed=0)
model = PPO("MlpPolicy", env, n_steps=128, batch_size=64, seed=0, verbose=0)

# Records every episode, SB3's metrics and checkpoints; drains the episodes in flight at the end.
tracking = TrackingCallback(
    name="example-sb3-ppo", db=args.db, tags=["example"], checkpoint_every_steps=args.steps // 4
)
model.learn(total_timesteps=args.steps, callback=tracking)
print(f"run {tracking.run.id}: {tracking.tracker.finished} episodes recorded")
