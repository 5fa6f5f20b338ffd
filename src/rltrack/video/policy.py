"""A checkpoint as a policy that also tells what it computed: the POLICY panel's numbers.

Each algorithm shows what it really has, from the one forward pass that picks the action:

* PPO, A2C, MaskablePPO (actor-critic): the action probabilities (masked for MaskablePPO), or
  the Gaussian's mean per action dimension for continuous actions, and the value estimate V(s);
* DQN: the Q-values; QR-DQN: the mean of its quantiles per action (its Q-values);
* IQN (:mod:`rltrack.agents.iqn`): the mean of K sampled quantiles per action, as the agent
  acts on them. Q-learners have no separate value estimate, so none is shown.

Acting: ``deterministic`` takes the most likely action (actor-critic: the distribution's mode;
Q-learners: the argmax). Otherwise actor-critic policies sample, and Q-learners act
epsilon-greedily with the exploration rate the checkpoint was acting with (SB3's
``exploration_rate`` when it was saved; IQN's epsilon schedule at its training step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from rltrack.training.backends import registry
from rltrack.video.mlp import NumpyMlp
from rltrack.video.options import VideoError

ACTOR_CRITIC = ("ppo", "a2c", "maskable_ppo")
Q_LEARNERS = ("dqn", "qrdqn")


@dataclass(slots=True)
class Readout:
    """The numbers behind one action: ``values`` per action (probabilities, Q-values or the
    action mean), ``value`` the state-value estimate when the algorithm has one, ``chosen`` the
    index of the action taken (discrete actions)."""

    values: np.ndarray
    value: float | None
    chosen: int | None


class PolicyView(Protocol):
    """``title`` names what ``Readout.values`` are ("action probabilities", "Q-values", ...)."""

    title: str
    n_values: int

    def seed(self, seed: int) -> None: ...

    def act(self, obs: Any, env: gym.Env[Any, Any]) -> tuple[Any, Readout]: ...


def load_policy(
    algorithm: str,
    path: str,
    action_space: gym.Space[Any],
    observation_space: gym.Space[Any],
    *,
    deterministic: bool,
    backend: str | None = None,
) -> PolicyView:
    """The checkpoint at ``path`` of a run trained with ``algorithm``, on the CPU. SB3's
    algorithms and IQN show what their networks computed; any other algorithm plays through
    its ``backend``'s policy loader (the registry's) and shows the action it took."""
    try:
        if algorithm == "iqn":
            return IqnView(path, action_space, observation_space, deterministic)
        # SB3's own views for SB3's runs; any other backend plays through its loader.
        if algorithm not in ACTOR_CRITIC + Q_LEARNERS or backend not in (None, "sb3"):
            if backend is None or backend not in registry.names():
                raise VideoError(f"algorithm {algorithm!r}: the video cannot play its checkpoints")
            return ActionView(
                registry.get(backend).load().policy_loader, algorithm, path, action_space
            )
        from rltrack.training.backends.sb3 import algorithm_class

        model = algorithm_class(algorithm).load(path, device="cpu")
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise VideoError(f"cannot load checkpoint {path}: {exc}") from None
    if algorithm in ACTOR_CRITIC:
        return ActorCriticView(
            model, action_space, deterministic, masked=algorithm == "maskable_ppo"
        )
    return QView(model, action_space, deterministic, quantiles=algorithm == "qrdqn")


class ActionView:
    """Any backend's checkpoint through its own deterministic policy loader: the panel shows
    the action taken (one bar per discrete action, the chosen one full; a continuous action's
    components as they are)."""

    def __init__(self, make: Any, algorithm: str, path: str, action_space: gym.Space[Any]) -> None:
        self.make, self.algorithm, self.path = make, algorithm, path
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        self.title = "action taken" if self.discrete else "action"
        self.n_values = (
            int(action_space.n)  # type: ignore[attr-defined]
            if self.discrete
            else int(np.prod(action_space.shape or (1,)))
        )
        self.seed(0)

    def seed(self, seed: int) -> None:
        self.policy = self.make(self.algorithm, seed=seed, device="cpu")(self.path)

    def act(self, obs: Any, env: gym.Env[Any, Any]) -> tuple[Any, Readout]:
        action = self.policy(obs, env)
        if self.discrete:
            values = np.zeros(self.n_values)
            values[int(action)] = 1.0
            return action, Readout(values, None, int(action))
        return action, Readout(np.asarray(action, dtype=np.float64).reshape(-1), None, None)


def _flat_box(space: gym.Space[Any]) -> bool:
    """A Box observation that SB3 feeds to its networks as it is (no image scaling)."""
    from stable_baselines3.common.preprocessing import is_image_space

    return isinstance(space, gym.spaces.Box) and not is_image_space(space)


def _to_tensor(policy: Any, obs: Any) -> torch.Tensor:
    """A batch of one observation. A Box observation goes straight to a tensor (what SB3's
    ``obs_to_tensor`` does for it, without its checks, which cost more than the network);
    anything else takes SB3's way."""
    space = policy.observation_space
    if isinstance(space, gym.spaces.Box) and isinstance(obs, np.ndarray):
        return torch.as_tensor(obs).reshape(1, *space.shape)
    tensor, _ = policy.obs_to_tensor(obs)
    return tensor  # type: ignore[no-any-return]


class ActorCriticView:
    """PPO, A2C and MaskablePPO. For a categorical or diagonal Gaussian policy (what SB3 builds
    for Discrete and Box actions) the action is drawn here from the network's logits or mean,
    with a generator seeded per chapter; other distributions go through SB3's own."""

    def __init__(
        self, model: Any, action_space: gym.Space[Any], deterministic: bool, *, masked: bool
    ) -> None:
        from stable_baselines3.common.distributions import (
            CategoricalDistribution,
            DiagGaussianDistribution,
        )

        self.policy = model.policy
        self.policy.set_training_mode(False)
        self.action_space = action_space
        self.deterministic = deterministic
        self.masked = masked
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            self.title = "action probabilities"
            self.n_values = int(action_space.n)  # type: ignore[attr-defined]
        elif isinstance(action_space, gym.spaces.Box):
            self.title = "action mean"
            self.n_values = int(np.prod(action_space.shape))
        else:
            raise VideoError(
                f"action space {action_space}: the video shows Discrete and Box actions only"
            )
        dist = self.policy.action_dist
        self.fast = type(dist) is DiagGaussianDistribution or isinstance(
            dist, CategoricalDistribution
        )
        if masked:
            self.fast = type(dist).__name__ == "MaskableCategoricalDistribution"
        self.rng = np.random.default_rng(0)
        # The networks in numpy when they are plain MLPs on a flat observation (MlpPolicy).
        self.np_pi = self.np_vf = None
        if self.fast and _flat_box(self.policy.observation_space):
            p = self.policy
            self.np_pi = NumpyMlp.of(
                p.pi_features_extractor, p.mlp_extractor.policy_net, p.action_net
            )
            self.np_vf = NumpyMlp.of(
                p.vf_features_extractor, p.mlp_extractor.value_net, p.value_net
            )
        self.std = None
        if not self.discrete and self.fast:
            self.std = self.policy.log_std.detach().exp().cpu().numpy().reshape(-1)

    def seed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)

    def _latents(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.policy
        features = p.extract_features(x)
        if p.share_features_extractor:
            latent_pi, latent_vf = p.mlp_extractor(features)
        else:
            pi_features, vf_features = features
            latent_pi = p.mlp_extractor.forward_actor(pi_features)
            latent_vf = p.mlp_extractor.forward_critic(vf_features)
        return latent_pi, latent_vf

    def act(self, obs: Any, env: gym.Env[Any, Any]) -> tuple[Any, Readout]:
        p = self.policy
        masks = None
        if self.masked:
            masks = np.asarray(env.get_wrapper_attr("action_masks")(), dtype=bool).reshape(-1)
        if self.np_pi is not None and self.np_vf is not None:
            out = self.np_pi(obs).astype(np.float64)
            value = float(self.np_vf(obs)[0])
        else:
            with torch.inference_mode():
                latent_pi, latent_vf = self._latents(_to_tensor(p, obs))
                value = float(p.value_net(latent_vf).reshape(-1)[0])
                if not self.fast:
                    return self._slow(latent_pi, value, masks)
                out = p.action_net(latent_pi)[0].numpy().astype(np.float64).reshape(-1)
        if not self.discrete:
            assert self.std is not None
            if self.deterministic:
                raw = out
            else:
                raw = out + self.std * self.rng.standard_normal(len(self.std))
            return self._box_action(raw), Readout(out, value, None)
        if masks is not None:
            out[~masks] = -1e8
        values = np.exp(out - out.max())
        values /= values.sum()
        if self.deterministic:
            action = int(values.argmax())
        else:
            cdf = np.cumsum(values)
            u = self.rng.random() * cdf[-1]
            action = int(min(np.searchsorted(cdf, u, "right"), self.n_values - 1))
        return action, Readout(values, value, action)

    def _slow(
        self, latent_pi: torch.Tensor, value: float, masks: np.ndarray | None
    ) -> tuple[Any, Readout]:
        dist = self.policy._get_action_dist_from_latent(latent_pi)
        if masks is not None:
            dist.apply_masking(masks.reshape(1, -1))
        action_t = dist.get_actions(deterministic=self.deterministic)
        raw = action_t.numpy()[0]
        if self.discrete:
            values = dist.distribution.probs[0].numpy().astype(np.float64)
            return int(raw), Readout(values, value, int(raw))
        values = dist.distribution.mean[0].numpy().astype(np.float64).reshape(-1)
        return self._box_action(raw), Readout(values, value, None)

    def _box_action(self, raw: np.ndarray) -> np.ndarray:
        box = self.action_space
        assert isinstance(box, gym.spaces.Box)
        raw = np.asarray(raw, dtype=np.float32).reshape(box.shape)
        if getattr(self.policy, "squash_output", False):
            raw = self.policy.unscale_action(raw)
        return np.clip(raw, box.low, box.high).astype(box.dtype)


class QView:
    """DQN (``q_net``) and QR-DQN (``quantile_net``, averaged over quantiles)."""

    def __init__(
        self, model: Any, action_space: gym.Space[Any], deterministic: bool, *, quantiles: bool
    ) -> None:
        if not isinstance(action_space, gym.spaces.Discrete):
            raise VideoError(f"action space {action_space}: Q-learners need Discrete actions")
        self.policy = model.policy
        self.policy.set_training_mode(False)
        self.net = self.policy.quantile_net if quantiles else self.policy.q_net
        self.quantiles = quantiles
        self.title = "mean quantile Q-values" if quantiles else "Q-values"
        self.n_values = int(action_space.n)
        self.epsilon = 0.0 if deterministic else float(getattr(model, "exploration_rate", 0.0))
        self.rng = np.random.default_rng(0)
        self.np_q = None
        if _flat_box(self.policy.observation_space):
            head = self.net.quantile_net if quantiles else self.net.q_net
            self.np_q = NumpyMlp.of(self.net.features_extractor, head)

    def seed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Any, env: gym.Env[Any, Any]) -> tuple[Any, Readout]:
        if self.np_q is not None:
            out = self.np_q(obs).astype(np.float64)
            q = out.reshape(-1, self.n_values).mean(axis=0) if self.quantiles else out
        else:
            with torch.inference_mode():
                t = self.net(_to_tensor(self.policy, obs))
                q = (t.mean(dim=1) if self.quantiles else t)[0].numpy().astype(np.float64)
        action = int(q.argmax())
        if self.epsilon > 0 and self.rng.random() < self.epsilon:
            action = int(self.rng.integers(self.n_values))
        return action, Readout(q, None, action)


class IqnView:
    """rltrack's IQN: the network of the checkpoint (the learner's local one), acting on the
    mean of ``k_quantiles`` sampled quantiles as the actors do."""

    def __init__(
        self,
        path: str,
        action_space: gym.Space[Any],
        observation_space: gym.Space[Any],
        deterministic: bool,
    ) -> None:
        from rltrack.agents.iqn import EpsilonSchedule, IQNPolicy, load_checkpoint

        payload = load_checkpoint(path)
        self.obs_dim, self.n_values = int(payload["obs_dim"]), int(payload["n_actions"])
        n = getattr(action_space, "n", None)
        dim = int(np.prod(observation_space.shape or (0,)))
        if n != self.n_values or dim != self.obs_dim:
            raise VideoError(
                f"checkpoint {path} has {self.obs_dim} inputs and {self.n_values} actions; the "
                f"env has {dim} and {n}"
            )
        policy = IQNPolicy.from_checkpoint(payload, seed=0)
        cfg = policy.cfg
        self.k = cfg.k_quantiles
        self.generator = policy.generator
        self.network = policy.network
        step = int(payload.get("training_step", 0))
        self.epsilon = 0.0 if deterministic else EpsilonSchedule.from_config(cfg).value(step)
        self.title = "mean quantile Q-values"
        self.rng = np.random.default_rng(0)
        self.obs = torch.zeros((1, self.obs_dim), dtype=torch.float32)

    def seed(self, seed: int) -> None:
        self.generator.manual_seed(seed)
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Any, env: gym.Env[Any, Any]) -> tuple[Any, Readout]:
        self.obs[0] = torch.from_numpy(np.asarray(obs, dtype=np.float32).reshape(self.obs_dim))
        with torch.inference_mode():
            q = self.network.q_values(self.obs, self.k, self.generator)[0].numpy()
        q = q.astype(np.float64)
        action = int(q.argmax())
        if self.epsilon > 0 and self.rng.random() < self.epsilon:
            action = int(self.rng.integers(self.n_values))
        return action, Readout(q, None, action)
