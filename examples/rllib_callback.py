"""Ray RLlib with rltrack: your own script, one callback.

python examples/rllib_callback.py --iterations 20
rltrack runs; rltrack episodes <run>; rltrack serve
"""

import argparse

import ray
from ray.rllib.algorithms.ppo import PPOConfig

from rltrack.integrations.rllib import TrackingCallback, drain

parser = argparse.ArgumentParser()
parser.add_argument("--iterations", type=int, default=20)
parser.add_argument("--batch", type=int, default=1000, help="env steps per iteration")
parser.add_argument("--runners", type=int, default=1)
parser.add_argument(
    "--db", default=None, help="database URL or SQLite path (default: RLTRACK_HOME)"
)
args = parser.parse_args()

# A Ray of its own on this machine (leave address out to join a running cluster).
ray.init(address="local", num_cpus=args.runners + 1, include_dashboard=False, log_to_driver=False)
config = (
    PPOConfig()
    .environment("CartPole-v1")
    .env_runners(num_env_runners=args.runners, num_envs_per_env_runner=2)
    .training(train_batch_size_per_learner=args.batch, minibatch_size=min(args.batch, 128))
    .debugging(seed=0)
    # Records every episode of every env runner and each iteration's metrics. A plain
    # config.callbacks(TrackingCallback) works too: the run is named after the script.
    .callbacks(TrackingCallback.using(name="example-rllib-ppo", db=args.db, tags=["example"]))
)
algo = config.build_algo()
for i in range(args.iterations):
    result = algo.train()
    print(f"iteration {i + 1}: {result['env_runners']['num_env_steps_sampled_lifetime']} steps")

# Steps the episodes in flight to their end (no learning), then finishes the run.
run = drain(algo)
algo.stop()
print(f"run {run.id}: {run.book.finished} episodes recorded")
ray.shutdown()
