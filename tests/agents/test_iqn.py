"""IQN's parts, each against what it must do: shapes, the loss by hand, the learner's update
(gradients, clipping, counters, modes, devices, target updates, double Q), the optimizer after
every weight copy, n-step returns, the replay ring, the epsilon schedule, checkpoints, and a
short serial training run on CartPole."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from rltrack.agents.iqn import (
    CARTPOLE_HYPERPARAMS,
    EpsilonSchedule,
    IQNConfig,
    IQNLearner,
    IQNNetwork,
    IQNPolicy,
    NStepAccumulator,
    ReplayBuffer,
    Transition,
    cosine_embedding,
    load_checkpoint,
    quantile_huber_loss,
)

OBS_DIM, N_ACTIONS = 4, 3
SMALL = IQNConfig(
    hidden_sizes=(16, 16),
    n_quantiles=8,
    n_target_quantiles=6,
    k_quantiles=5,
    batch_size=8,
    buffer_size=64,
    learning_starts=8,
)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def make_batch(
    batch_size: int = 8, seed: int = 0, scale: float = 1.0, reward: float = 1.0
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "obs": (scale * rng.normal(size=(batch_size, OBS_DIM))).astype(np.float32),
        "action": rng.integers(0, N_ACTIONS, size=batch_size).astype(np.int64),
        "reward": np.full(batch_size, reward, dtype=np.float32),
        "next_obs": (scale * rng.normal(size=(batch_size, OBS_DIM))).astype(np.float32),
        "done": rng.random(batch_size) < 0.25,
        "discount": np.full(batch_size, 0.99, dtype=np.float32),
    }


def weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def assert_fresh_optimizer(learner: IQNLearner) -> None:
    """The optimizer's parameters are the model's current parameter objects; its state is empty."""
    (group,) = learner.optimizer.param_groups
    model_params = list(learner.local.parameters())
    assert len(group["params"]) == len(model_params)
    assert all(p is q for p, q in zip(group["params"], model_params, strict=True))
    assert len(learner.optimizer.state) == 0


# --- config --------------------------------------------------------------------------------


def test_config_round_trips_and_names_bad_keys() -> None:
    cfg = IQNConfig(hidden_sizes=(32,), n_step=3, target_update="soft")
    assert IQNConfig.from_hyperparams(cfg.to_dict()) == cfg
    assert IQNConfig.from_hyperparams({"hidden_sizes": [8, 8], "kappa": 2}).hidden_sizes == (8, 8)
    with pytest.raises(ValueError, match="n_stpe"):
        IQNConfig.from_hyperparams({"n_stpe": 3})
    with pytest.raises(ValueError, match="batch_size"):
        IQNConfig.from_hyperparams({"batch_size": "64"})
    # 1e5 in a config file is a float; a whole one is the count it means, half a step is not.
    assert IQNConfig.from_hyperparams({"buffer_size": 1e5}).buffer_size == 100_000
    with pytest.raises(ValueError, match="batch_size"):
        IQNConfig.from_hyperparams({"batch_size": 64.5})
    with pytest.raises(ValueError, match="target_update"):
        IQNConfig.from_hyperparams({"target_update": "sometimes"})
    with pytest.raises(ValueError, match="n_step"):
        IQNConfig(n_step=0)


def test_defaults_follow_the_paper() -> None:
    cfg = IQNConfig()
    sizes = (cfg.embedding_dim, cfg.n_quantiles, cfg.n_target_quantiles, cfg.k_quantiles)
    assert sizes == (64, 64, 64, 32)
    assert cfg.kappa == 1.0 and cfg.max_grad_norm == 1.0 and cfg.double_q


# --- network -------------------------------------------------------------------------------


@pytest.mark.parametrize("dueling", [False, True])
def test_network_shapes(dueling: bool) -> None:
    cfg = IQNConfig(hidden_sizes=(16, 16), dueling=dueling)
    net = IQNNetwork(OBS_DIM, N_ACTIONS, cfg)
    obs = torch.randn(5, OBS_DIM)
    assert net(obs, torch.rand(5, 7)).shape == (5, 7, N_ACTIONS)
    assert net.q_values(obs, k=9).shape == (5, N_ACTIONS)
    one_layer = IQNNetwork(OBS_DIM, N_ACTIONS, IQNConfig(hidden_sizes=(8,)))
    assert one_layer(obs, torch.rand(5, 3)).shape == (5, 3, N_ACTIONS)


def test_dueling_head_combines_value_and_centred_advantage() -> None:
    net = IQNNetwork(OBS_DIM, N_ACTIONS, IQNConfig(hidden_sizes=(16, 16), dueling=True))
    assert net.value is not None
    obs, taus = torch.randn(5, OBS_DIM), torch.rand(5, 7)
    h = net.psi(obs).unsqueeze(1) * net.phi(cosine_embedding(taus, 64))
    # The mean over actions of V + A - mean(A) is V.
    torch.testing.assert_close(net(obs, taus).mean(dim=-1, keepdim=True), net.value(h))


def test_cosine_embedding_has_64_features() -> None:
    net = IQNNetwork(OBS_DIM, N_ACTIONS, IQNConfig())
    linear = net.phi[0]
    assert isinstance(linear, nn.Linear) and linear.in_features == 64
    taus = torch.tensor([[0.0, 0.25, 0.5]])
    emb = cosine_embedding(taus, 64)
    assert emb.shape == (1, 3, 64)
    expected = torch.cos(torch.pi * torch.arange(64) * 0.25)
    torch.testing.assert_close(emb[0, 1], expected)
    assert torch.all(emb[..., 0] == 1.0)  # i = 0: a constant feature (the bias of φ)


def test_q_values_average_k_sampled_quantiles() -> None:
    net = IQNNetwork(OBS_DIM, N_ACTIONS, SMALL)
    obs = torch.randn(4, OBS_DIM)
    q = net.q_values(obs, k=32, generator=torch.Generator().manual_seed(7))
    taus = torch.rand((4, 32), generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(q, net(obs, taus).mean(dim=1))


def test_same_seed_same_weights() -> None:
    a = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cpu", seed=3)
    b = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cpu", seed=3)
    c = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cpu", seed=4)
    assert same(weights(a.local), weights(b.local))
    assert not same(weights(a.local), weights(c.local))


# --- loss ----------------------------------------------------------------------------------


def test_quantile_huber_loss_by_hand() -> None:
    current = torch.tensor([[0.0, 1.0]])
    taus = torch.tensor([[0.25, 0.75]])
    target = torch.tensor([[0.5, 2.0]])
    # i=0 (θ=0, τ=.25): δ = .5, 2.0 → huber .125, 1.5 → weight .25 (δ >= 0) → .03125, .375
    # i=1 (θ=1, τ=.75): δ = -.5, 1.0 → huber .125, .5 → weights .25 (δ < 0), .75 → .03125, .375
    # mean over the 2 targets, sum over the 2 quantiles: .203125 + .203125
    loss = quantile_huber_loss(current, target, taus, kappa=1.0)
    assert loss.item() == pytest.approx(0.40625)


def test_quantile_huber_loss_matches_the_papers_formula() -> None:
    """Against eq. 3 written literally (with ties δ = 0 included), values and gradients."""
    gen = torch.Generator().manual_seed(0)
    current = torch.randn(4, 6, generator=gen).round(decimals=1).requires_grad_(True)
    target = torch.randn(4, 5, generator=gen).round(decimals=1)
    target[:, 0] = current.detach()[:, 0]  # exact ties
    taus = torch.rand(4, 6, generator=gen)
    for kappa in (1.0, 0.3):
        td = target[:, None, :] - current[:, :, None]
        huber = torch.where(td.abs() <= kappa, 0.5 * td**2, kappa * (td.abs() - 0.5 * kappa))
        rho = (taus[:, :, None] - (td.detach() < 0).float()).abs() * huber / kappa
        expected = rho.mean(dim=2).sum(dim=1).mean()
        (grad_expected,) = torch.autograd.grad(expected, current)
        loss = quantile_huber_loss(current, target, taus, kappa)
        (grad,) = torch.autograd.grad(loss, current)
        torch.testing.assert_close(loss, expected)
        torch.testing.assert_close(grad, grad_expected)


def test_quantile_huber_loss_is_zero_when_current_equals_target() -> None:
    """A point mass predicted where the target's point mass is: nothing to learn."""
    values = torch.randn(3, 1)
    current, target = values.expand(3, 5), values.expand(3, 7).clone()
    assert quantile_huber_loss(current, target, torch.rand(3, 5), kappa=1.0).item() == 0.0
    assert quantile_huber_loss(current + 0.1, target, torch.rand(3, 5), kappa=1.0).item() > 0.0


def test_quantile_huber_loss_minimiser_is_the_quantile() -> None:
    """Over candidate values θ against samples of U(0, 10), the loss at τ = 0.9 is smallest
    near 9 (κ small, where the Huber part is negligible) and at τ = 0.5 near 5."""
    thetas = torch.linspace(0.0, 10.0, 1001).unsqueeze(1)  # 1001 candidates, one quantile each
    samples = torch.linspace(0.0, 10.0, 201).expand(1001, 201)
    for tau, expected in ((0.9, 9.0), (0.5, 5.0)):
        taus = torch.full((1001, 1), tau)
        per_theta = torch.stack(
            [
                quantile_huber_loss(thetas[i : i + 1], samples[i : i + 1], taus[i : i + 1], 0.01)
                for i in range(0, 1001)
            ]
        )
        assert thetas[per_theta.argmin()].item() == pytest.approx(expected, abs=0.06)


# --- learner -------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_learn_step(device: str) -> None:
    learner = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, device, seed=0)
    seen: list[tuple[bool, torch.device]] = []

    def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
        seen.append((module.training, args[0].device))
        seen.append((module.training, args[1].device))

    learner.local.register_forward_pre_hook(hook)
    learner.local.eval()  # learn() must switch it back
    assert learner.training_step == 0
    before = weights(learner.local)

    stats = learner.learn(make_batch(scale=100.0, reward=50.0))

    assert learner.training_step == 1
    assert seen and all(training for training, _ in seen)
    assert all(dev.type == learner.device.type for _, dev in seen)
    grads = [p.grad for p in learner.local.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    norm_after = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g) for g in grads if g is not None])
    ).item()
    assert stats.grad_norm > 1.0  # large inputs and rewards: the raw gradient is big …
    assert norm_after <= 1.0 + 1e-6  # … and what the optimizer used was clipped
    assert stats.grad_norm_clipped == pytest.approx(norm_after, rel=1e-5)
    assert np.isfinite(stats.loss) and stats.loss > 0 and np.isfinite(stats.q_mean)
    assert not same(before, weights(learner.local))

    learner.learn(make_batch(seed=1))
    assert learner.training_step == 2


def test_hard_target_update_on_the_interval() -> None:
    cfg = IQNConfig(**{**SMALL.to_dict(), "target_update": "hard", "target_update_interval": 3})
    learner = IQNLearner(OBS_DIM, N_ACTIONS, cfg, "cpu", seed=0)
    assert same(weights(learner.local), weights(learner.target))
    for step in range(1, 7):
        learner.learn(make_batch(seed=step))
        in_sync = same(weights(learner.local), weights(learner.target))
        assert in_sync == (step % 3 == 0), step
    assert all(not p.requires_grad for p in learner.target.parameters())


def test_soft_target_update_moves_by_tau() -> None:
    cfg = IQNConfig(**{**SMALL.to_dict(), "target_update": "soft", "tau": 0.1})
    learner = IQNLearner(OBS_DIM, N_ACTIONS, cfg, "cpu", seed=0)
    for step in range(3):
        old_target = weights(learner.target)
        learner.learn(make_batch(seed=step))
        new_local = weights(learner.local)
        for t_old, t_new, local in zip(old_target, weights(learner.target), new_local, strict=True):
            torch.testing.assert_close(t_new, 0.9 * t_old + 0.1 * local)
        assert not same(weights(learner.target), new_local)


def _constant_head(net: IQNNetwork, values: list[float]) -> None:
    """Make every quantile of action a equal values[a], whatever the state and τ."""
    out = net.advantage[-1]
    assert isinstance(out, nn.Linear)
    with torch.no_grad():
        out.weight.zero_()
        out.bias.copy_(torch.tensor(values))


@pytest.mark.parametrize(("double_q", "expected"), [(True, -5.0), (False, 5.0)])
def test_double_q_target_uses_the_local_argmax(double_q: bool, expected: float) -> None:
    cfg = IQNConfig(**{**SMALL.to_dict(), "double_q": double_q})
    learner = IQNLearner(OBS_DIM, N_ACTIONS, cfg, "cpu", seed=0)
    _constant_head(learner.local, [1.0, 0.0, -1.0])  # local prefers action 0
    _constant_head(learner.target, [-5.0, 5.0, 0.0])  # target prefers action 1
    batch = make_batch()
    targets = learner.compute_targets(
        torch.from_numpy(batch["next_obs"]),
        reward=torch.zeros(8),
        done=torch.zeros(8, dtype=torch.bool),
        discount=torch.ones(8),
    )
    assert targets.shape == (8, cfg.n_target_quantiles)
    torch.testing.assert_close(targets, torch.full_like(targets, expected))


def test_terminal_rows_do_not_bootstrap() -> None:
    learner = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cpu", seed=0)
    _constant_head(learner.local, [1.0, 0.0, 0.0])
    _constant_head(learner.target, [10.0, 0.0, 0.0])
    targets = learner.compute_targets(
        torch.zeros(2, OBS_DIM),
        reward=torch.tensor([1.0, 1.0]),
        done=torch.tensor([True, False]),
        discount=torch.tensor([0.5, 0.5]),
    )
    torch.testing.assert_close(targets[:, 0], torch.tensor([1.0, 6.0]))


# --- weight copies and the optimizer -------------------------------------------------------


def test_every_weight_copy_gets_a_fresh_optimizer_over_the_copied_weights(tmp_path: Path) -> None:
    source = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cpu", seed=0)
    for step in range(3):
        source.learn(make_batch(seed=step))
    assert len(source.optimizer.state) > 0

    copies = {
        "from_source(learner)": IQNLearner.from_source(source, seed=1),
        "from_source(network)": IQNLearner.from_source(source.local, seed=1),
    }
    loaded = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cpu", seed=2)
    loaded.learn(make_batch())  # some optimizer state that must not survive the copy
    loaded.load_weights(source.local.state_dict(), source.target.state_dict())
    copies["load_weights"] = loaded

    for name, learner in copies.items():
        assert_fresh_optimizer(learner)
        assert same(weights(learner.local), weights(source.local)), name
        assert learner.local is not source.local
        assert learner.training_step == 0 or name == "load_weights"
        before = weights(learner.local)
        learner.learn(make_batch(seed=9))
        assert not same(before, weights(learner.local)), name
        # The copy trains its own tensors: the source is untouched.
        assert not same(weights(learner.local), weights(source.local)), name

    assert same(weights(copies["from_source(learner)"].target), weights(source.target))


@pytest.mark.parametrize("device", DEVICES)
def test_checkpoint_round_trip(tmp_path: Path, device: str) -> None:
    cfg = IQNConfig(**{**SMALL.to_dict(), "n_step": 3, "dueling": True})
    learner = IQNLearner(OBS_DIM, N_ACTIONS, cfg, device, seed=0)
    for step in range(5):
        learner.learn(make_batch(seed=step))
    path = tmp_path / "iqn.pt"
    torch.save(learner.checkpoint(), path)

    restored = IQNLearner.from_checkpoint(load_checkpoint(path), device)

    assert restored.cfg == cfg and restored.training_step == 5
    assert restored.device == learner.device
    assert same(weights(restored.local), weights(learner.local))
    assert same(weights(restored.target), weights(learner.target))
    (group,) = restored.optimizer.param_groups
    assert all(p is q for p, q in zip(group["params"], restored.local.parameters(), strict=True))
    for p_old, p_new in zip(learner.local.parameters(), restored.local.parameters(), strict=True):
        old, new = learner.optimizer.state[p_old], restored.optimizer.state[p_new]
        assert torch.equal(old["exp_avg"], new["exp_avg"])
        assert torch.equal(old["exp_avg_sq"], new["exp_avg_sq"])
        assert new["exp_avg"].device == p_new.device
    # The same next update from both, bit for bit (Adam's moments and step count carried over).
    learner.generator.manual_seed(123)
    restored.generator.manual_seed(123)
    learner.learn(make_batch(seed=42))
    restored.learn(make_batch(seed=42))
    assert same(weights(restored.local), weights(learner.local))


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@needs_cuda
def test_cuda_graph_updates_match_eager_updates() -> None:
    graphed = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cuda", seed=0)
    eager = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cuda", seed=0, cuda_graph=False)
    assert graphed.cuda_graph and not eager.cuda_graph
    for step in range(10):
        a, b = graphed.learn(make_batch(seed=step)), eager.learn(make_batch(seed=step))
        assert a.loss == pytest.approx(b.loss, rel=1e-4, abs=1e-6), step
        assert a.grad_norm == pytest.approx(b.grad_norm, rel=1e-4), step
        assert a.grad_norm_clipped <= SMALL.max_grad_norm + 1e-6
    assert graphed._captured is not None  # the later updates were replays
    for p, q in zip(graphed.local.parameters(), eager.local.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    for p, q in zip(graphed.target.parameters(), eager.target.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    assert graphed.training_step == 10


@needs_cuda
def test_a_batch_of_another_size_trains_eagerly_beside_the_graph() -> None:
    learner = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cuda", seed=0)
    for step in range(6):
        learner.learn(make_batch(seed=step))
    captured = learner._captured
    assert captured is not None
    before = weights(learner.local)
    stats = learner.learn(make_batch(batch_size=5, seed=7))
    assert np.isfinite(stats.loss) and not same(before, weights(learner.local))
    assert learner._captured is captured  # the graph stays for the usual size
    before = weights(learner.local)
    learner.learn(make_batch(seed=8))
    assert not same(before, weights(learner.local))


@needs_cuda
def test_cuda_graph_is_captured_again_after_weights_are_copied_in() -> None:
    learner = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cuda", seed=0)
    for step in range(6):
        learner.learn(make_batch(seed=step))
    assert learner._captured is not None
    source = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cuda", seed=5)
    learner.load_weights(source.local.state_dict(), source.target.state_dict())
    assert learner._captured is None
    assert_fresh_optimizer(learner)
    for step in range(6):
        before = weights(learner.local)
        learner.learn(make_batch(seed=10 + step))
        assert not same(before, weights(learner.local)), step
    assert learner._captured is not None
    (group,) = learner.optimizer.param_groups
    assert all(p is q for p, q in zip(group["params"], learner.local.parameters(), strict=True))


@needs_cuda
@pytest.mark.parametrize(("saved_on", "resumed_on"), [("cuda", "cpu"), ("cpu", "cuda")])
def test_checkpoints_move_between_cpu_and_cuda(
    tmp_path: Path, saved_on: str, resumed_on: str
) -> None:
    learner = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, saved_on, seed=0)
    for step in range(6):
        learner.learn(make_batch(seed=step))
    torch.save(learner.checkpoint(), tmp_path / "iqn.pt")
    restored = IQNLearner.from_checkpoint(load_checkpoint(tmp_path / "iqn.pt"), resumed_on)
    assert restored.training_step == 6
    for step in range(6):
        before = weights(restored.local)
        stats = restored.learn(make_batch(seed=20 + step))
        assert np.isfinite(stats.loss) and not same(before, weights(restored.local))
    assert all(p.device.type == resumed_on for p in restored.local.parameters())


def test_cuda_graph_needs_a_cuda_device() -> None:
    with pytest.raises(ValueError, match="cuda_graph needs a CUDA device"):
        IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cpu", seed=0, cuda_graph=True)


def test_load_checkpoint_refuses_code(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"config": IQNConfig()}, path)  # a dataclass instance is not plain data
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_checkpoint(path)


# --- epsilon schedule ----------------------------------------------------------------------


def test_epsilon_schedule() -> None:
    schedule = EpsilonSchedule(start=1.0, end=0.05, decay_steps=1_000, decay_freq=10)
    values = [schedule.value(step) for step in range(1_500)]
    assert values[0] == 1.0
    assert all(b <= a for a, b in zip(values, values[1:], strict=False))
    for k in range(0, 1_490, 10):
        assert len(set(values[k : k + 10])) == 1, k  # constant between multiples of 10
    assert values[10] < values[9]
    assert values[1_000] == pytest.approx(0.05) and values[-1] == pytest.approx(0.05)
    assert values[500] == pytest.approx(0.525)
    assert EpsilonSchedule(1.0, 0.1, 0, 10).value(0) == 0.1


# --- n-step returns ------------------------------------------------------------------------


def _obs(i: int) -> np.ndarray:
    return np.full(OBS_DIM, float(i), dtype=np.float32)


def test_n_step_returns_without_episode_end() -> None:
    acc = NStepAccumulator(n=3, gamma=0.5)
    out: list[Transition] = []
    for t in range(5):
        out += acc.push(_obs(t), t, float(t + 1), _obs(t + 1), False, False)
    assert len(out) == 3  # transitions leave once 3 steps are known
    first, second, third = out
    assert first.reward == pytest.approx(1 + 0.5 * 2 + 0.25 * 3)
    assert first.discount == pytest.approx(0.125) and not first.done
    assert first.obs[0] == 0 and first.next_obs[0] == 3 and first.action == 0
    assert second.reward == pytest.approx(2 + 0.5 * 3 + 0.25 * 4) and second.next_obs[0] == 4
    assert third.obs[0] == 2 and third.next_obs[0] == 5


@pytest.mark.parametrize("terminated", [True, False])
def test_n_step_flushes_at_episode_end(terminated: bool) -> None:
    acc = NStepAccumulator(n=3, gamma=0.5)
    out: list[Transition] = []
    out += acc.push(_obs(0), 0, 1.0, _obs(1), False, False)
    out += acc.push(_obs(1), 1, 1.0, _obs(2), False, False)
    assert out == []
    out += acc.push(_obs(2), 0, 1.0, _obs(3), terminated, not terminated)
    assert [t.obs[0] for t in out] == [0, 1, 2]
    assert all(t.next_obs[0] == 3 for t in out)
    assert [t.reward for t in out] == pytest.approx([1.75, 1.5, 1.0])
    assert [t.discount for t in out] == pytest.approx([0.125, 0.25, 0.5])
    # Termination: no bootstrap; truncation (a time limit): bootstrap from the last obs.
    assert all(t.done == terminated for t in out)
    # The next episode starts clean.
    assert acc.push(_obs(10), 1, 2.0, _obs(11), False, False) == []


def test_n_step_short_episode_and_n1() -> None:
    acc = NStepAccumulator(n=3, gamma=0.9)
    (only,) = acc.push(_obs(0), 1, 2.0, _obs(1), True, False)
    assert only.reward == 2.0 and only.discount == pytest.approx(0.9) and only.done
    one = NStepAccumulator(n=1, gamma=0.9)
    (t,) = one.push(_obs(0), 1, 2.0, _obs(1), False, False)
    assert t.reward == 2.0 and t.discount == pytest.approx(0.9) and not t.done


def test_n_step_copies_observations() -> None:
    acc = NStepAccumulator(n=2, gamma=0.9)
    obs = _obs(0)
    acc.push(obs, 0, 1.0, _obs(1), False, False)
    obs[:] = 99.0  # an env that reuses its array
    (t,) = acc.push(_obs(1), 0, 1.0, _obs(2), False, False)
    assert t.obs[0] == 0.0


# --- replay buffer -------------------------------------------------------------------------


def _transition(i: int) -> Transition:
    return Transition(_obs(i), i % N_ACTIONS, float(i), _obs(i + 1000), i % 7 == 0, 0.9)


def test_replay_ring_wraps_around() -> None:
    replay = ReplayBuffer((OBS_DIM,), capacity=10)
    replay.add([_transition(i) for i in range(7)])
    assert len(replay) == 7
    replay.add([_transition(i) for i in range(7, 15)])
    assert len(replay) == 10
    # Slots 0..4 were overwritten by 10..14; slots 5..9 still hold 5..9.
    assert replay.obs[:, 0].tolist() == [10, 11, 12, 13, 14, 5, 6, 7, 8, 9]
    replay.add([_transition(i) for i in range(100, 125)])  # more than the capacity at once
    assert len(replay) == 10 and sorted(replay.obs[:, 0].tolist()) == list(range(115, 125))
    replay.add([])
    assert len(replay) == 10


def test_replay_add_arrays_stores_what_add_stores() -> None:
    """The learner adds the actors' stacked batches as arrays; the rows must be the same as
    adding the Transitions one by one, wrap-around and overflow included."""
    by_rows = ReplayBuffer((OBS_DIM,), capacity=10)
    by_arrays = ReplayBuffer((OBS_DIM,), capacity=10)
    for chunk in (range(7), range(7, 15), range(100, 125)):
        rows = [_transition(i) for i in chunk]
        by_rows.add(rows)
        by_arrays.add_arrays(
            np.stack([t.obs for t in rows]), np.array([t.action for t in rows]),
            np.array([t.reward for t in rows], dtype=np.float32),
            np.stack([t.next_obs for t in rows]),
            np.array([t.done for t in rows], dtype=np.float32),  # actors send float flags
            np.array([t.discount for t in rows], dtype=np.float32),
        )  # fmt: skip
        assert len(by_arrays) == len(by_rows)
        for name in ("obs", "next_obs", "action", "reward", "done", "discount"):
            np.testing.assert_array_equal(getattr(by_arrays, name), getattr(by_rows, name))
    assert sorted(by_arrays.obs[:, 0].tolist()) == list(range(115, 125))
    assert by_arrays.done.dtype == np.bool_ and by_arrays.done.any()


def test_replay_sample_shapes_dtypes_and_whole_rows() -> None:
    replay = ReplayBuffer((OBS_DIM,), capacity=50)
    with pytest.raises(ValueError):
        replay.sample(4, np.random.default_rng(0))
    for start in range(0, 120, 3):  # many wraps, in uneven chunks
        replay.add([_transition(i) for i in range(start, start + 3)])
    batch = replay.sample(256, np.random.default_rng(0))
    assert batch["obs"].shape == (256, OBS_DIM) and batch["obs"].dtype == np.float32
    assert batch["next_obs"].shape == (256, OBS_DIM) and batch["next_obs"].dtype == np.float32
    assert batch["action"].shape == (256,) and batch["action"].dtype == np.int64
    assert batch["reward"].dtype == np.float32 and batch["discount"].dtype == np.float32
    assert batch["done"].dtype == np.bool_
    ids = batch["obs"][:, 0].astype(int)
    assert ids.min() >= 70  # only the newest 50 remain
    np.testing.assert_array_equal(batch["next_obs"][:, 0], ids + 1000)
    np.testing.assert_array_equal(batch["action"], ids % N_ACTIONS)
    np.testing.assert_array_equal(batch["reward"], ids.astype(np.float32))
    np.testing.assert_array_equal(batch["done"], ids % 7 == 0)
    assert np.all(batch["obs"] == batch["obs"][:, :1])  # every column of a row from one obs


# --- policy --------------------------------------------------------------------------------


def test_policy_acts_greedily_and_explores() -> None:
    policy = IQNPolicy(OBS_DIM, N_ACTIONS, SMALL, seed=0)
    assert not policy.network.training
    assert all(not p.requires_grad for p in policy.network.parameters())
    _constant_head(policy.network, [0.0, 3.0, 1.0])
    rng = np.random.default_rng(0)
    obs = np.zeros((200, OBS_DIM), dtype=np.float32)
    actions, q = policy.act(obs, 0.0, rng)
    assert actions.shape == (200,) and actions.dtype == np.int64 and q.shape == (200, N_ACTIONS)
    assert np.all(actions == 1)
    explored, _ = policy.act(obs, 1.0, rng)
    assert set(explored.tolist()) == {0, 1, 2}
    single, _ = policy.act(obs[0], 0.0, rng)
    assert single.shape == (1,)


def test_policy_takes_the_learners_weights() -> None:
    learner = IQNLearner(OBS_DIM, N_ACTIONS, SMALL, "cpu", seed=0)
    policy = IQNPolicy(OBS_DIM, N_ACTIONS, SMALL, seed=1)
    policy.network.load_state_dict(learner.local.state_dict())
    obs = torch.randn(3, OBS_DIM)
    taus = torch.rand(3, 4)
    torch.testing.assert_close(policy.network(obs, taus), learner.local(obs, taus))


# --- learning ------------------------------------------------------------------------------


def run_cartpole(hp: dict[str, Any], env_steps: int, seed: int) -> IQNPolicy:
    """The serial loop of bench/iqn_serial_tuning.py, without its evaluations."""
    cfg = IQNConfig.from_hyperparams(hp)
    env = gym.make("CartPole-v1")
    learner = IQNLearner(4, 2, cfg, "cpu", seed=seed)
    policy = IQNPolicy(4, 2, cfg, seed=seed + 1)
    policy.network.load_state_dict(learner.local.state_dict())
    replay = ReplayBuffer((4,), cfg.buffer_size)
    nstep = NStepAccumulator(cfg.n_step, cfg.gamma)
    epsilon = EpsilonSchedule.from_config(cfg)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(env_steps):
        action = int(policy.act(obs, epsilon.value(learner.training_step), rng)[0][0])
        next_obs, reward, terminated, truncated, _ = env.step(action)
        replay.add(nstep.push(obs, action, float(reward), next_obs, terminated, truncated))
        obs = next_obs if not (terminated or truncated) else env.reset()[0]
        if len(replay) >= cfg.learning_starts:
            learner.learn(replay.sample(cfg.batch_size, rng))
            if learner.training_step % cfg.publish_interval == 0:
                policy.network.load_state_dict(learner.local.state_dict())
    policy.network.load_state_dict(learner.local.state_dict())
    return policy


def greedy_returns(policy: IQNPolicy, episodes: int, seed: int) -> list[float]:
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy.act(obs, 0.0, rng)[0][0]))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


@pytest.mark.slow
def test_serial_training_learns_cartpole() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread trains this small net fastest on a shared machine
    try:
        policy = run_cartpole(CARTPOLE_HYPERPARAMS, env_steps=15_000, seed=0)
    finally:
        torch.set_num_threads(threads)
    returns = greedy_returns(policy, episodes=10, seed=10_000)
    assert statistics.fmean(returns) > 100.0, returns  # random play averages about 22
