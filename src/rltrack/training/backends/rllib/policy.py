"""A checkpoint's RLModule as a deterministic policy (``rltrack evaluate``, ``rltrack video``,
the held-out evaluation): the module's inference pass, then its action distribution made
deterministic, which for discrete actions is the argmax of the action logits (DQN's module
gives the greedy action itself). A continuous action is clipped to the action space."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rltrack.training.backends.rllib.archive import load_module
from rltrack.training.evaluate import Policy, PolicyLoader


def greedy_action(module: Any, obs: Any) -> Any:
    """The module's deterministic action for one observation."""
    import torch

    batch = torch.as_tensor(np.asarray(obs)[None])
    if batch.dtype == torch.float64:
        batch = batch.float()
    with torch.no_grad():
        out = module.forward_inference({"obs": batch})
        if "actions" in out:
            action = out["actions"]
        else:
            dist = module.get_inference_action_dist_cls().from_logits(out["action_dist_inputs"])
            action = dist.to_deterministic().sample()
    return action[0].cpu().numpy()


def module_policy(module: Any) -> Policy:
    space = module.action_space

    def act(obs: Any, env: gym.Env[Any, Any]) -> Any:
        action = greedy_action(module, obs)
        if isinstance(space, gym.spaces.Discrete):
            return int(action)
        if isinstance(space, gym.spaces.Box):
            return np.clip(action, space.low, space.high).astype(space.dtype)
        return action

    return act


def rllib_loader() -> PolicyLoader:
    def load(path: str) -> Policy:
        return module_policy(load_module(path))

    return load
