"""The POLICY panel's numbers are what each algorithm computes: checked against the
algorithms' own forward passes on saved (untrained) models."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib import QRDQN, MaskablePPO
from stable_baselines3 import A2C, DQN, PPO

from rltrack.agents.iqn import IQNConfig, IQNLearner, IQNNetwork
from rltrack.envs import make_env
from rltrack.video.policy import ActorCriticView, IqnView, QView, load_policy


def observations(env: gym.Env, n: int = 20) -> list[np.ndarray]:
    obs, _ = env.reset(seed=0)
    out = [obs]
    for _ in range(n - 1):
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset()
        out.append(obs)
    return out


@pytest.mark.parametrize("cls,algo", [(PPO, "ppo"), (A2C, "a2c")])
def test_actor_critic_shows_its_probabilities_and_value(
    tmp_path: Path, cls: type, algo: str
) -> None:
    env = gym.make("CartPole-v1")
    model = cls("MlpPolicy", env, seed=0, device="cpu")
    model.save(tmp_path / "m.zip")
    view = load_policy(
        algo, str(tmp_path / "m.zip"), env.action_space, env.observation_space, deterministic=True
    )
    assert isinstance(view, ActorCriticView) and view.title == "action probabilities"
    for obs in observations(env):
        action, readout = view.act(obs, env)
        obs_t, _ = model.policy.obs_to_tensor(obs)
        with torch.no_grad():
            probs = model.policy.get_distribution(obs_t).distribution.probs[0].numpy()
            value = float(model.policy.predict_values(obs_t)[0, 0])
        np.testing.assert_allclose(readout.values, probs, rtol=1e-5, atol=1e-6)
        assert readout.value == pytest.approx(value, rel=1e-5, abs=1e-6)
        assert action == readout.chosen == int(model.predict(obs, deterministic=True)[0])


def test_sampled_actions_follow_the_probabilities(tmp_path: Path) -> None:
    env = gym.make("CartPole-v1")
    PPO("MlpPolicy", env, seed=0, device="cpu").save(tmp_path / "m.zip")
    view = load_policy(
        "ppo", str(tmp_path / "m.zip"), env.action_space, env.observation_space, deterministic=False
    )
    view.seed(0)
    obs, _ = env.reset(seed=0)
    picks = [view.act(obs, env) for _ in range(2000)]
    p_right = picks[0][1].values[1]
    share = sum(a == 1 for a, _ in picks) / len(picks)
    assert abs(share - p_right) < 0.05


def test_maskable_ppo_masks_the_probabilities(tmp_path: Path) -> None:
    env = make_env("rltrack/MaskedBandit-v0")
    MaskablePPO("MlpPolicy", env, seed=0, device="cpu").save(tmp_path / "m.zip")
    view = load_policy(
        "maskable_ppo",
        str(tmp_path / "m.zip"),
        env.action_space,
        env.observation_space,
        deterministic=False,
    )
    view.seed(1)
    obs, _ = env.reset(seed=0)
    for _ in range(40):
        masks = np.asarray(env.get_wrapper_attr("action_masks")(), dtype=bool)
        action, readout = view.act(obs, env)
        assert masks[action]
        assert np.all(readout.values[~masks] < 1e-6)
        assert readout.values.sum() == pytest.approx(1.0)
        obs, _, term, trunc, _ = env.step(action)
        if term or trunc:
            obs, _ = env.reset()


@pytest.mark.parametrize("cls,algo", [(DQN, "dqn"), (QRDQN, "qrdqn")])
def test_q_learners_show_their_q_values(tmp_path: Path, cls: type, algo: str) -> None:
    env = gym.make("CartPole-v1")
    model = cls("MlpPolicy", env, seed=0, device="cpu")
    model.save(tmp_path / "m.zip")
    view = load_policy(
        algo, str(tmp_path / "m.zip"), env.action_space, env.observation_space, deterministic=True
    )
    assert isinstance(view, QView) and view.title.endswith("Q-values")
    for obs in observations(env):
        action, readout = view.act(obs, env)
        obs_t, _ = model.policy.obs_to_tensor(obs)
        with torch.no_grad():
            if algo == "dqn":
                q = model.q_net(obs_t)[0].numpy()
            else:
                q = model.quantile_net(obs_t).mean(dim=1)[0].numpy()
        np.testing.assert_allclose(readout.values, q, rtol=1e-5, atol=1e-6)
        assert readout.value is None
        assert action == readout.chosen == int(model.predict(obs, deterministic=True)[0])


def test_iqn_shows_its_mean_quantile_q_values(tmp_path: Path) -> None:
    env = gym.make("CartPole-v1")
    cfg = IQNConfig(hidden_sizes=(32, 32), k_quantiles=8, epsilon_decay_steps=100)
    learner = IQNLearner(4, 2, cfg, seed=0)
    learner.training_step = 50  # halfway down the epsilon schedule
    torch.save(learner.checkpoint(), tmp_path / "iqn.pt")
    view = load_policy(
        "iqn", str(tmp_path / "iqn.pt"), env.action_space, env.observation_space, deterministic=True
    )
    assert isinstance(view, IqnView) and view.epsilon == 0.0
    view.seed(5)
    reference = IQNNetwork(4, 2, cfg)
    reference.load_state_dict(learner.local.state_dict())
    generator = torch.Generator().manual_seed(5)
    for obs in observations(env, 10):
        action, readout = view.act(obs, env)
        with torch.no_grad():
            x = torch.as_tensor(obs, dtype=torch.float32)[None]
            q = reference.q_values(x, cfg.k_quantiles, generator)[0].numpy()
        np.testing.assert_allclose(readout.values, q, rtol=1e-5, atol=1e-6)
        assert action == readout.chosen == int(q.argmax())
    acting = load_policy(
        "iqn",
        str(tmp_path / "iqn.pt"),
        env.action_space,
        env.observation_space,
        deterministic=False,
    )
    assert isinstance(acting, IqnView)
    assert acting.epsilon == pytest.approx(cfg.epsilon_start + 0.5 * (cfg.epsilon_end - 1.0))


def test_networks_other_than_plain_mlps_stay_on_torch(tmp_path: Path) -> None:
    env = gym.make("CartPole-v1")
    model = PPO(
        "MlpPolicy", env, seed=0, device="cpu", policy_kwargs={"activation_fn": torch.nn.ELU}
    )
    model.save(tmp_path / "m.zip")
    view = load_policy(
        "ppo", str(tmp_path / "m.zip"), env.action_space, env.observation_space, deterministic=True
    )
    assert isinstance(view, ActorCriticView) and view.np_pi is None
    plain = load_policy(
        "ppo",
        str(_save(tmp_path, PPO("MlpPolicy", env, seed=0))),
        env.action_space,
        env.observation_space,
        deterministic=True,
    )
    assert isinstance(plain, ActorCriticView) and plain.np_pi is not None
    for obs in observations(env):
        _, readout = view.act(obs, env)
        obs_t, _ = model.policy.obs_to_tensor(obs)
        with torch.no_grad():
            probs = model.policy.get_distribution(obs_t).distribution.probs[0].numpy()
        np.testing.assert_allclose(readout.values, probs, rtol=1e-5, atol=1e-6)


def _save(tmp_path: Path, model: PPO) -> Path:
    path = tmp_path / "plain.zip"
    model.save(path)
    return path


def test_continuous_actions_show_the_gaussian_mean(tmp_path: Path) -> None:
    env = gym.make("Pendulum-v1")
    model = PPO("MlpPolicy", env, seed=0, device="cpu")
    model.save(tmp_path / "m.zip")
    view = load_policy(
        "ppo", str(tmp_path / "m.zip"), env.action_space, env.observation_space, deterministic=True
    )
    assert view.title == "action mean" and view.n_values == 1
    for obs in observations(env):
        action, readout = view.act(obs, env)
        obs_t, _ = model.policy.obs_to_tensor(obs)
        with torch.no_grad():
            mean = model.policy.get_distribution(obs_t).distribution.mean[0].numpy()
        np.testing.assert_allclose(readout.values, mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(action, model.predict(obs, deterministic=True)[0], atol=1e-5)
        assert env.action_space.contains(action) and readout.chosen is None
