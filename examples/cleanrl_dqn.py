"""A CleanRL-style DQN loop over a Gymnasium vector env, recorded by rltrack.

python examples/cleanrl_dqn.py --steps 30000
"""

import argparse
import random

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import rltrack
from rltrack.integrations.gymnasium import RecordEpisodes

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=30_000)
p.add_argument("--envs", type=int, default=4)
p.add_argument("--db", default=None, help="database URL or SQLite path (default: RLTRACK_HOME)")
args = p.parse_args()
cfg = {"lr": 2.5e-4, "gamma": 0.99, "batch": 128, "start": 1000, "train_every": 10, "seed": 1}
random.seed(cfg["seed"]), np.random.seed(cfg["seed"]), torch.manual_seed(cfg["seed"])

with rltrack.init("example-cleanrl-dqn", config=cfg, db=args.db, algorithm="dqn",
                  env_id="CartPole-v1", tags=["example"]) as run:  # fmt: skip
    envs = RecordEpisodes(gym.make_vec("CartPole-v1", num_envs=args.envs), run)
    q = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 2))
    target = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 2))
    target.load_state_dict(q.state_dict())
    opt = torch.optim.Adam(q.parameters(), lr=cfg["lr"])
    buf: list[tuple] = []
    obs, _ = envs.reset(seed=cfg["seed"])
    for step in range(0, args.steps, args.envs):
        eps = max(0.05, 1 - step / (0.5 * args.steps))
        with torch.no_grad():
            greedy = q(torch.as_tensor(obs)).argmax(1).numpy()
        actions = np.where(np.random.rand(args.envs) < eps, envs.action_space.sample(), greedy)
        next_obs, rewards, terms, truncs, _ = envs.step(actions)
        buf += zip(obs, actions, rewards, next_obs, terms, strict=True)
        del buf[:-50_000]
        obs = next_obs
        if step > cfg["start"] and step % cfg["train_every"] < args.envs:
            o, a, r, o2, d = map(np.array, zip(*random.sample(buf, cfg["batch"]), strict=True))
            with torch.no_grad():
                future = target(torch.as_tensor(o2)).max(1).values * (1 - torch.as_tensor(d * 1.0))
                y = (torch.as_tensor(r) + cfg["gamma"] * future).float()
            taken = q(torch.as_tensor(o)).gather(1, torch.as_tensor(a)[:, None]).squeeze(1)
            loss = nn.functional.mse_loss(taken, y)
            opt.zero_grad(), loss.backward(), opt.step()
            if step % 500 < args.envs:
                target.load_state_dict(q.state_dict())
                run.log_metrics({"losses/td_loss": loss.item(), "charts/epsilon": eps}, step)
    envs.close()  # the episodes still in flight are closed as truncated
print(f"run {run.id}: {run.book.finished} episodes recorded")
