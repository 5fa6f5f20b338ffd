"""Implicit Quantile Networks (Dabney et al. 2018, arXiv:1806.06923) in PyTorch.

The file reads top to bottom: config → network → loss → epsilon schedule → n-step returns →
replay buffer → learner → policy. It does no I/O, starts no processes and tracks nothing; the
training loops (serial, actor-learner) and the run records live elsewhere.

IQN learns the quantile function of the return: the network takes a state and quantile
fractions τ ∈ (0, 1) and returns, for every action, the τ-quantile of the return. Q-values are
the mean of K sampled quantiles; the loss is the quantile Huber loss between N sampled quantiles
of the online network and N′ sampled quantiles of the (double-Q) target.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "CARTPOLE_HYPERPARAMS",
    "EpsilonSchedule",
    "IQNConfig",
    "IQNLearner",
    "IQNNetwork",
    "IQNPolicy",
    "LearnStats",
    "NStepAccumulator",
    "ReplayBuffer",
    "Transition",
    "cosine_embedding",
    "load_checkpoint",
    "quantile_huber_loss",
]

# ----------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IQNConfig:
    """Hyperparameters of IQN; frozen so a run's configuration cannot drift after it starts.

    Defaults follow Dabney et al. where they apply to small MLPs (N = N′ = 64, K = 32, κ = 1,
    a cosine embedding of 64 features, Adam with eps 0.01/32); the rest are common choices for
    low-dimensional control tasks. Step counts are in learner steps unless a name says otherwise.
    """

    hidden_sizes: tuple[int, ...] = (128, 128)
    embedding_dim: int = 64  # cosine features of τ: cos(π i τ), i = 0 .. embedding_dim - 1
    n_quantiles: int = 64  # N: sampled τ for the online side of the loss
    n_target_quantiles: int = 64  # N′: sampled τ for the target side
    k_quantiles: int = 32  # K: sampled τ for acting and for the double-Q argmax
    kappa: float = 1.0  # quantile Huber loss threshold
    gamma: float = 0.99
    n_step: int = 1
    dueling: bool = False
    double_q: bool = True
    learning_rate: float = 5e-4
    adam_eps: float = 1e-2 / 32
    batch_size: int = 64
    buffer_size: int = 100_000
    learning_starts: int = 1_000  # transitions in replay before the learner trains
    target_update: Literal["hard", "soft"] = "hard"
    target_update_interval: int = 500  # learner steps between hard copies
    tau: float = 0.005  # soft update rate, applied every learner step
    max_grad_norm: float = 1.0
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 10_000  # learner steps over which epsilon decays linearly
    epsilon_decay_freq: int = 10  # epsilon changes only every this many learner steps
    publish_interval: int = 10  # learner steps between publishes to the actors' model
    # The replay ratio: training env steps (all of an agent's actors together) per learner
    # step. Serial mode interleaves exactly so; actor processes wait when they get further
    # ahead of the learner than this, so that adding actors does not quietly starve learning.
    env_steps_per_update: float = 4.0

    def __post_init__(self) -> None:
        positive_ints = (
            "embedding_dim", "n_quantiles", "n_target_quantiles", "k_quantiles", "n_step",
            "batch_size", "buffer_size", "target_update_interval", "epsilon_decay_freq",
            "publish_interval",
        )  # fmt: skip
        for name in positive_ints:
            if getattr(self, name) < 1:
                raise ValueError(f"IQNConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.hidden_sizes or any(h < 1 for h in self.hidden_sizes):
            raise ValueError(
                f"IQNConfig.hidden_sizes must be a non-empty tuple of positive layer widths, "
                f"got {self.hidden_sizes!r}"
            )
        for name in ("learning_starts", "epsilon_decay_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"IQNConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("kappa", "learning_rate", "adam_eps", "max_grad_norm", "env_steps_per_update"):
            if not getattr(self, name) > 0:
                raise ValueError(f"IQNConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("gamma", "tau", "epsilon_start", "epsilon_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"IQNConfig.{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.target_update not in ("hard", "soft"):
            raise ValueError(
                f"IQNConfig.target_update must be 'hard' or 'soft', got {self.target_update!r}"
            )

    @classmethod
    def from_hyperparams(cls, hp: Mapping[str, Any]) -> IQNConfig:
        """Build a config from a plain dict (YAML, JSON, a checkpoint); unknown keys and values of
        the wrong type raise ValueError naming the key, so a typo never falls back to a default."""
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in hp.items():
            if key not in defaults:
                raise ValueError(
                    f"unknown IQN hyperparameter {key!r}; valid keys: {', '.join(defaults)}"
                )
            values[key] = _coerce(key, value, defaults[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain values only, so the dict survives JSON and ``torch.load(weights_only=True)``."""
        return dataclasses.asdict(self)


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Check ``value`` against the type of the field's default; ints are accepted for floats,
    whole floats for ints (``buffer_size: 1e5``) and lists for tuples (JSON has neither
    floats-that-are-ints nor tuples)."""
    kind = type(value).__name__
    bad = ValueError(f"IQN hyperparameter {key!r} must be like {default!r}, got {value!r} ({kind})")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise bad
        return tuple(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad
        return value
    raise bad  # pragma: no cover - every field has one of the types above


# A CartPole-v1 preset, tuned with bench/iqn_serial_tuning.py (one env, one learner step per env
# step, the policy refreshed every `publish_interval` learner steps): it reached a mean of >= 475
# over 20 greedy episodes in 3 of 3 seeds, after 12.5k-17.5k env steps (see
# bench/results/iqn_serial_tuning.json). Why these values: 16 quantiles and 64 units cost a third
# of the paper's 64/32 quantiles and 128 units per update on a CPU and learned no worse here; a
# high learning rate with frequent target copies and 3-step returns propagates the +1 rewards
# quickly; a short epsilon decay stops random actions from dominating the replay early.
CARTPOLE_HYPERPARAMS: dict[str, Any] = {
    "hidden_sizes": (64, 64),
    "n_quantiles": 16,
    "n_target_quantiles": 16,
    "k_quantiles": 16,
    "gamma": 0.99,
    "n_step": 3,
    "learning_rate": 2e-3,
    "batch_size": 64,
    "buffer_size": 50_000,
    "learning_starts": 500,
    "target_update": "hard",
    "target_update_interval": 150,
    "epsilon_start": 1.0,
    "epsilon_end": 0.02,
    "epsilon_decay_steps": 5_000,
    "epsilon_decay_freq": 10,
    "env_steps_per_update": 1.0,
}

# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------


def cosine_embedding(taus: Tensor, dim: int, frequencies: Tensor | None = None) -> Tensor:
    """cos(π i τ) for i = 0 .. dim - 1: [..., N] -> [..., N, dim]. A fixed basis lets one small
    linear layer represent smooth functions of τ (the paper found it beat learned alternatives).
    ``frequencies`` is π i precomputed (the network keeps it, saving two ops per call)."""
    if frequencies is None:
        frequencies = math.pi * torch.arange(dim, device=taus.device, dtype=taus.dtype)
    return torch.cos(taus.unsqueeze(-1) * frequencies)


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


def _run(layers: nn.Sequential, x: Tensor) -> Tensor:
    """``layers(x)`` for a Sequential of Linear, ReLU and nested Sequentials, through the
    functional ops: the same arithmetic without Module.__call__'s per-layer bookkeeping, which
    is ~5 % of an update's time at CartPole's sizes (hooks on these inner layers would not
    fire; nothing registers any)."""
    for layer in layers:
        if isinstance(layer, nn.Linear):
            x = F.linear(x, layer.weight, layer.bias)
        elif isinstance(layer, nn.ReLU):
            x = torch.relu(x)
        else:
            x = _run(layer, x)  # type: ignore[arg-type]
    return x


def _reset_linear(layer: nn.Linear, generator: torch.Generator | None) -> None:
    """PyTorch's default Linear init, drawn from ``generator`` so a seed reproduces the weights
    without touching the global RNG."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(layer.in_features)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class IQNNetwork(nn.Module):
    """Z(x, τ) = f(ψ(x) ⊙ φ(τ)): a state torso ψ, a τ embedding φ, and a head f over their
    product. The product (rather than a concatenation) is the paper's choice: it forces every
    state feature to interact with τ.

    ψ is an MLP over ``hidden_sizes[:-1]`` (or all of it when there is one size); the head has a
    hidden layer of ``hidden_sizes[-1]`` units (none when there is one size). With ``dueling``
    the head splits into a value and an advantage stream, combined as V + A - mean(A) per τ.
    """

    frequencies: Tensor  # π i, a buffer

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        cfg: IQNConfig,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self.cfg = cfg
        torso = cfg.hidden_sizes[:-1] if len(cfg.hidden_sizes) > 1 else cfg.hidden_sizes
        head = cfg.hidden_sizes[-1:] if len(cfg.hidden_sizes) > 1 else ()
        width = torso[-1]
        self.psi = _mlp((obs_dim, *torso))
        self.phi = nn.Sequential(nn.Linear(cfg.embedding_dim, width), nn.ReLU())
        self.advantage = nn.Sequential(
            _mlp((width, *head)), nn.Linear((width, *head)[-1], n_actions)
        )
        self.value = (
            nn.Sequential(_mlp((width, *head)), nn.Linear((width, *head)[-1], 1))
            if cfg.dueling
            else None
        )
        for module in self.modules():
            if isinstance(module, nn.Linear):
                _reset_linear(module, generator)
        # π i of the cosine embedding; not in the state dict (it is not learned).
        self.register_buffer(
            "frequencies", math.pi * torch.arange(cfg.embedding_dim, dtype=torch.float32),
            persistent=False,
        )  # fmt: skip

    def forward(self, obs: Tensor, taus: Tensor) -> Tensor:
        """obs [B, obs_dim], taus [B, N] -> quantiles [B, N, n_actions]."""
        psi = _run(self.psi, obs.flatten(1))
        phi = _run(self.phi, cosine_embedding(taus, self.cfg.embedding_dim, self.frequencies))
        h = psi.unsqueeze(1) * phi
        adv = _run(self.advantage, h)
        if self.value is None:
            return adv
        value = _run(self.value, h)
        return value + adv - adv.mean(dim=-1, keepdim=True)

    def train(self, mode: bool = True) -> IQNNetwork:
        # Module.train walks every submodule; the learner calls it before each update.
        return self if self.training == mode else super().train(mode)

    def q_values(self, obs: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        """Q(x, a) as the mean of ``k`` quantiles at τ ~ U(0, 1) drawn per row: [B, n_actions]."""
        taus = torch.rand((obs.shape[0], k), generator=generator, device=obs.device)
        quantiles: Tensor = self(obs, taus)
        return quantiles.mean(dim=1)


# ----------------------------------------------------------------------------------------------
# Loss
# ----------------------------------------------------------------------------------------------


def quantile_huber_loss(current: Tensor, target: Tensor, taus: Tensor, kappa: float) -> Tensor:
    """Quantile Huber loss (eq. 3 of the paper): current [B, N] at fractions taus [B, N], target
    [B, N′] -> scalar; summed over N, averaged over N′ and the batch.

    Every target sample is compared with every current quantile; the weight |τ - 1{δ < 0}| makes
    the minimiser the τ-quantile, and the Huber part keeps gradients bounded by κ.
    """
    shape = (current.shape[0], current.shape[1], target.shape[1])  # [B, N, N′]
    current_ij, target_ij = current.unsqueeze(2).expand(shape), target.unsqueeze(1).expand(shape)
    huber = F.huber_loss(current_ij, target_ij, reduction="none", delta=kappa)
    # 1{δ < 0} as (1 - sign δ) / 2: the same except at δ = 0, where the Huber term is 0 anyway;
    # float ops because comparisons and torch.where on CPU cost ~10x a multiply here.
    below = 0.5 * (1.0 - (target_ij - current_ij).detach().sign())
    weight = (taus.unsqueeze(2) - below).abs()
    return (weight * huber).sum(dim=1).mean() / kappa


# ----------------------------------------------------------------------------------------------
# Epsilon schedule
# ----------------------------------------------------------------------------------------------


class EpsilonSchedule:
    """Linear decay from ``start`` to ``end`` over ``decay_steps`` learner steps, piecewise
    constant: the value changes only at multiples of ``decay_freq``, so actors that read it now
    and then (and the episodes that record it) see a few distinct values, not a new one per step.
    """

    def __init__(self, start: float, end: float, decay_steps: int, decay_freq: int) -> None:
        if decay_freq < 1 or decay_steps < 0:
            raise ValueError("EpsilonSchedule needs decay_freq >= 1 and decay_steps >= 0")
        self.start = start
        self.end = end
        self.decay_steps = decay_steps
        self.decay_freq = decay_freq

    @classmethod
    def from_config(cls, cfg: IQNConfig) -> EpsilonSchedule:
        return cls(
            cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps, cfg.epsilon_decay_freq
        )

    def value(self, learner_step: int) -> float:
        if self.decay_steps == 0:
            return self.end
        step = (max(learner_step, 0) // self.decay_freq) * self.decay_freq
        fraction = min(1.0, step / self.decay_steps)
        return self.start + fraction * (self.end - self.start)


# ----------------------------------------------------------------------------------------------
# n-step returns
# ----------------------------------------------------------------------------------------------


class Transition(NamedTuple):
    """An n-step transition: reward is the discounted sum of up to n rewards; ``done`` says the
    episode terminated within them (no bootstrap); ``discount`` is γ^k for the k steps summed."""

    obs: np.ndarray
    action: int
    reward: float
    next_obs: np.ndarray
    done: bool
    discount: float


class NStepAccumulator:
    """Turns one env slot's 1-step experience into n-step transitions (one accumulator per slot).

    A transition leaves once n steps are known; at episode end every pending one leaves with the
    rewards it has. Termination sets ``done`` (the future is worth 0); truncation does not, so
    the learner bootstraps from the last observation — a time limit is not a terminal state.
    """

    def __init__(self, n: int, gamma: float) -> None:
        if n < 1:
            raise ValueError(f"n-step must be >= 1, got {n}")
        self.n = n
        self.gamma = gamma
        self._pending: deque[tuple[np.ndarray, int, float]] = deque()

    def push(
        self,
        obs: npt.ArrayLike,
        action: int,
        reward: float,
        next_obs: npt.ArrayLike,
        terminated: bool,
        truncated: bool,
    ) -> list[Transition]:
        # Copies: an env may reuse its observation array in place.
        self._pending.append((np.array(obs), int(action), float(reward)))
        next_obs_arr = np.array(next_obs)
        ready: list[Transition] = []
        if terminated or truncated:
            while self._pending:
                ready.append(self._pop(next_obs_arr, bool(terminated)))
        elif len(self._pending) == self.n:
            ready.append(self._pop(next_obs_arr, False))
        return ready

    def _pop(self, next_obs: np.ndarray, terminated: bool) -> Transition:
        ret, discount = 0.0, 1.0
        for _, _, r in self._pending:
            ret += discount * r
            discount *= self.gamma
        obs, action, _ = self._pending.popleft()
        return Transition(obs, action, ret, next_obs, terminated, discount)

    def reset(self) -> None:
        """Drop pending steps (an env reset that did not come from termination or truncation)."""
        self._pending.clear()


# ----------------------------------------------------------------------------------------------
# Replay buffer
# ----------------------------------------------------------------------------------------------


class ReplayBuffer:
    """A NumPy ring buffer of n-step transitions with uniform sampling (with replacement).

    One writer (the learner's process) writes whole rows at one index, so a sampled row's obs,
    action, reward and next_obs always belong to the same transition.
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        capacity: int,
        obs_dtype: npt.DTypeLike = np.float32,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.action = np.zeros(capacity, dtype=np.int64)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.done = np.zeros(capacity, dtype=np.bool_)
        self.discount = np.zeros(capacity, dtype=np.float32)
        self._next = 0
        self._size = 0

    def add(self, transitions: Sequence[Transition]) -> None:
        if not transitions:
            return
        rows = transitions[-self.capacity :]
        self.add_arrays(
            np.stack([t.obs for t in rows]), [t.action for t in rows], [t.reward for t in rows],
            np.stack([t.next_obs for t in rows]), [t.done for t in rows],
            [t.discount for t in rows],
        )  # fmt: skip

    def add_arrays(
        self,
        obs: npt.ArrayLike,
        action: npt.ArrayLike,
        reward: npt.ArrayLike,
        next_obs: npt.ArrayLike,
        done: npt.ArrayLike,
        discount: npt.ArrayLike,
    ) -> None:
        """Add stacked transitions, one row each (what actors send), without building a
        Transition per row."""
        actions = np.asarray(action)
        n = len(actions)
        if n == 0:
            return
        # Only the newest `capacity` rows survive; dropping the rest first keeps indices unique.
        keep = slice(max(0, n - self.capacity), n)
        n = keep.stop - keep.start
        idx = (self._next + np.arange(n)) % self.capacity
        self.obs[idx] = np.asarray(obs)[keep]
        self.next_obs[idx] = np.asarray(next_obs)[keep]
        self.action[idx] = actions[keep]
        self.reward[idx] = np.asarray(reward)[keep]
        self.done[idx] = np.asarray(done)[keep]
        self.discount[idx] = np.asarray(discount)[keep]
        self._next = int((self._next + n) % self.capacity)
        self._size = min(self._size + n, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, self._size, size=batch_size)
        return {
            "obs": self.obs[idx],
            "action": self.action[idx],
            "reward": self.reward[idx],
            "next_obs": self.next_obs[idx],
            "done": self.done[idx],
            "discount": self.discount[idx],
        }

    def __len__(self) -> int:
        return self._size


# ----------------------------------------------------------------------------------------------
# Learner
# ----------------------------------------------------------------------------------------------


@dataclass
class LearnStats:
    """What one update did, for the learner's metrics (``losses/…``, ``learner/…``)."""

    loss: float
    grad_norm: float  # before clipping
    grad_norm_clipped: float  # after clipping: <= max_grad_norm
    q_mean: float  # mean predicted quantile of the actions taken


class IQNLearner:
    """Owns the local (trained) and target networks and the optimizer, and does one update per
    :meth:`learn`.

    Whenever weights are copied in (:meth:`load_weights`, :meth:`from_source`,
    :meth:`from_checkpoint`) a new optimizer is created after the copy, so its parameters are
    exactly the model's current ones and no moment estimates of other weights survive.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        cfg: IQNConfig,
        device: torch.device | str = "cpu",
        seed: int | None = None,
        cuda_graph: bool | None = None,
    ) -> None:
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self.cfg = cfg
        self.device = torch.device(device)
        init_generator = torch.Generator()
        self.generator = torch.Generator(device=self.device)  # the τ samples of the updates
        if seed is None:
            init_generator.seed()
            self.generator.seed()
        else:
            init_generator.manual_seed(seed)
            self.generator.manual_seed(seed + 1)
        self.local = IQNNetwork(obs_dim, n_actions, cfg, init_generator).to(self.device)
        self.target = copy.deepcopy(self.local)
        self.target.requires_grad_(False)
        self.target.eval()
        # On CUDA an update is replayed from a captured graph (see _CapturedUpdate): at these
        # sizes launching ~200 small kernels from Python costs far more than running them.
        self.cuda_graph = self.device.type == "cuda" if cuda_graph is None else cuda_graph
        if self.cuda_graph and self.device.type != "cuda":
            raise ValueError(f"cuda_graph needs a CUDA device, not {self.device}")
        self._stream = torch.cuda.Stream(self.device) if self.cuda_graph else None  # type: ignore[no-untyped-call]
        self._captured: _CapturedUpdate | None = None
        self._eager_steps = 0  # updates of the current optimizer before a capture
        self.optimizer = self._new_optimizer()
        self.training_step = 0

    def _new_optimizer(self) -> torch.optim.Adam:
        """Adam over the local network's current parameters, with empty state. A captured
        update holds the old optimizer's state tensors, so it is dropped (captured again after
        a few eager updates have created the new state)."""
        self._captured, self._eager_steps = None, 0
        # The fused kernel (CPU and CUDA) is ~5x faster than the per-tensor loops on small nets;
        # capturable keeps Adam's step count on the GPU, which a CUDA graph needs.
        return torch.optim.Adam(
            self.local.parameters(),
            lr=self.cfg.learning_rate,
            eps=self.cfg.adam_eps,
            fused=self.device.type in ("cpu", "cuda"),
            capturable=self.cuda_graph,
        )

    def load_optimizer_state(self, state: Mapping[str, Any]) -> None:
        """Load a saved Adam state (a checkpoint's) into the current optimizer. Whether steps
        are capturable belongs to this learner's device, not the saving one's: a checkpoint of
        a CUDA learner resumes on the CPU, and the other way round."""
        self.optimizer.load_state_dict(dict(state))
        for group in self.optimizer.param_groups:
            group["capturable"] = self.cuda_graph
        self._captured, self._eager_steps = None, 0

    def compute_targets(
        self, next_obs: Tensor, reward: Tensor, done: Tensor, discount: Tensor
    ) -> Tensor:
        """Target quantiles [B, N′]: r + γ^k Z_target(x′, τ′, a*) for non-terminal rows, where
        a* is the argmax of the local network's Q (double Q: the network that is not evaluating
        picks, which curbs overestimation) or of the target's own Q without double Q."""
        with torch.no_grad():
            chooser = self.local if self.cfg.double_q else self.target
            best = chooser.q_values(next_obs, self.cfg.k_quantiles, self.generator).argmax(dim=1)
            taus = torch.rand(
                (next_obs.shape[0], self.cfg.n_target_quantiles),
                generator=self.generator,
                device=self.device,
            )
            z_next: Tensor = self.target(next_obs, taus)  # [B, N′, A]
            index = best.view(-1, 1, 1).expand(-1, z_next.shape[1], 1)
            z_best = z_next.gather(2, index).squeeze(2)
            not_done = 1.0 - done.float()
            return reward.unsqueeze(1) + (not_done * discount).unsqueeze(1) * z_best

    def learn(self, batch: Mapping[str, np.ndarray]) -> LearnStats:
        """One gradient step on a replay batch (the dict of :meth:`ReplayBuffer.sample`): the
        batch moves to the learner's device, the local network trains in train mode, gradients
        are clipped to ``max_grad_norm``, then the target is updated (hard on the interval, or
        soft every step).

        On CUDA the first :data:`GRAPH_WARMUP_UPDATES` updates of an optimizer run eagerly on a
        side stream (they create Adam's state); the next one captures the update as a CUDA
        graph, and every later update copies its batch into the graph's inputs and replays it:
        the same kernels on the same tensors, the τ samples drawn from the same generator."""
        self.local.train()
        if self._captured is None and self.cuda_graph:
            if self._eager_steps >= GRAPH_WARMUP_UPDATES:
                self._captured = _CapturedUpdate(self, batch)
            else:
                self._eager_steps += 1
        if self._captured is not None and self._captured.fits(batch):
            out = self._captured.run(batch)
        elif self._stream is not None:  # warming up, or a batch of another shape: eager
            self._stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(self._stream):
                out = self._update(self._to_device(batch))
            torch.cuda.current_stream(self.device).wait_stream(self._stream)
        else:
            out = self._update(self._to_device(batch))
        self.training_step += 1
        self._update_target()
        # One device sync for all four numbers.
        return LearnStats(*(float(v) for v in out.tolist()))

    def _to_device(self, batch: Mapping[str, np.ndarray]) -> dict[str, Tensor]:
        return {k: torch.as_tensor(v).to(self.device, non_blocking=True) for k, v in batch.items()}

    def _update(self, t: Mapping[str, Tensor]) -> Tensor:
        """The update's arithmetic on device tensors, the optimizer step included; returns
        [loss, grad norm, clipped grad norm, mean quantile taken] without syncing."""
        obs, next_obs = t["obs"].float(), t["next_obs"].float()
        reward, discount = t["reward"].float(), t["discount"].float()
        target = self.compute_targets(next_obs, reward, t["done"], discount)

        taus = torch.rand(
            (obs.shape[0], self.cfg.n_quantiles), generator=self.generator, device=self.device
        )
        z: Tensor = self.local(obs, taus)  # [B, N, A]
        index = t["action"].long().view(-1, 1, 1).expand(-1, z.shape[1], 1)
        z_taken = z.gather(2, index).squeeze(2)  # [B, N]
        loss = quantile_huber_loss(z_taken, target, taus, self.cfg.kappa)

        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        params = [p for p in self.local.parameters() if p.grad is not None]
        grad_norm = nn.utils.clip_grad_norm_(params, self.cfg.max_grad_norm)
        # clip_grad_norm_ scaled every gradient by this factor, so this is the norm it left.
        scale = torch.clamp(self.cfg.max_grad_norm / (grad_norm + 1e-6), max=1.0)
        grad_norm_clipped = grad_norm * scale
        self.optimizer.step()
        return torch.stack([loss.detach(), grad_norm, grad_norm_clipped, z_taken.detach().mean()])

    def _update_target(self) -> None:
        if self.cfg.target_update == "hard":
            if self.training_step % self.cfg.target_update_interval == 0:
                self.target.load_state_dict(self.local.state_dict())
            return
        with torch.no_grad():
            for p_target, p_local in zip(
                self.target.parameters(), self.local.parameters(), strict=True
            ):
                p_target.lerp_(p_local, self.cfg.tau)

    def load_weights(
        self, local_state: Mapping[str, Any], target_state: Mapping[str, Any] | None = None
    ) -> None:
        """Copy weights in (the target gets ``target_state``, or the local weights), then create
        a new optimizer over the current parameters with empty state. ``training_step`` stays."""
        self.local.load_state_dict(local_state)
        self.target.load_state_dict(local_state if target_state is None else target_state)
        self.optimizer = self._new_optimizer()

    @classmethod
    def from_source(
        cls,
        source: IQNLearner | IQNNetwork,
        *,
        cfg: IQNConfig | None = None,
        device: torch.device | str | None = None,
        seed: int | None = None,
    ) -> IQNLearner:
        """A new learner (training_step 0, fresh optimizer) starting from a copy of ``source``'s
        weights: a learner's local and target, or one network for both. ``cfg`` may change
        training settings but not the architecture; the device defaults to the source's."""
        network = source.local if isinstance(source, IQNLearner) else source
        target = source.target if isinstance(source, IQNLearner) else source
        if device is None:
            device = next(network.parameters()).device
        learner = cls(network.obs_dim, network.n_actions, cfg or network.cfg, device, seed)
        learner.load_weights(network.state_dict(), target.state_dict())
        return learner

    def checkpoint(self) -> dict[str, Any]:
        """Everything to resume training, as CPU tensors and plain values (loadable with
        ``torch.load(weights_only=True)``), copied so later updates do not change it."""
        return {
            "local": _to_cpu(self.local.state_dict()),
            "target": _to_cpu(self.target.state_dict()),
            "optimizer": _to_cpu(self.optimizer.state_dict()),
            "training_step": self.training_step,
            "config": self.cfg.to_dict(),
            "obs_dim": self.obs_dim,
            "n_actions": self.n_actions,
        }

    @classmethod
    def from_checkpoint(
        cls, payload: Mapping[str, Any], device: torch.device | str = "cpu"
    ) -> IQNLearner:
        """Rebuild a learner from :meth:`checkpoint`: weights first, then a new optimizer over
        them, then the saved optimizer state loaded into it (Adam moves it to the device)."""
        cfg = IQNConfig.from_hyperparams(payload["config"])
        learner = cls(int(payload["obs_dim"]), int(payload["n_actions"]), cfg, device)
        learner.load_weights(payload["local"], payload["target"])
        learner.load_optimizer_state(payload["optimizer"])
        learner.training_step = int(payload["training_step"])
        return learner


# Eager updates of a new optimizer before its update is captured as a CUDA graph: the first
# creates Adam's state (creating it inside a capture would zero it at every replay), and the
# rest warm up the side stream the capture runs on.
GRAPH_WARMUP_UPDATES = 3


class _CapturedUpdate:
    """One learner update captured as a CUDA graph, with static input tensors: :meth:`run`
    copies a batch into them and replays the graph. Its parameters, gradients and Adam state
    are the learner's own tensors, updated in place, and its τ come from the learner's
    generator (registered with the graph, so every replay draws fresh ones)."""

    def __init__(self, learner: IQNLearner, batch: Mapping[str, np.ndarray]) -> None:
        assert learner._stream is not None
        self.inputs = learner._to_device(batch)
        torch.cuda.synchronize(learner.device)
        self.graph = torch.cuda.CUDAGraph()
        self.graph.register_generator_state(learner.generator)
        with torch.cuda.graph(self.graph, stream=learner._stream):
            self.out = learner._update(self.inputs)

    def fits(self, batch: Mapping[str, np.ndarray]) -> bool:
        """Whether ``batch`` has the captured inputs' keys and shapes (a graph replays fixed
        shapes; another batch size runs eagerly, on the same parameters and Adam state)."""
        return batch.keys() == self.inputs.keys() and all(
            tuple(np.shape(v)) == tuple(self.inputs[k].shape) for k, v in batch.items()
        )

    def run(self, batch: Mapping[str, np.ndarray]) -> Tensor:
        for key, value in batch.items():
            self.inputs[key].copy_(torch.as_tensor(value), non_blocking=True)
        self.graph.replay()
        return self.out


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a file written with ``torch.save(learner.checkpoint(), path)``; weights_only=True so
    a checkpoint can carry no code."""
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict):
        raise ValueError(f"{path} is not an IQN checkpoint (expected a dict)")
    return payload


# ----------------------------------------------------------------------------------------------
# Policy
# ----------------------------------------------------------------------------------------------


class IQNPolicy:
    """The actor side: a CPU copy of the network in eval mode without gradients, acting
    epsilon-greedily on the mean of K sampled quantiles. Weights arrive by
    ``policy.network.load_state_dict(...)`` from the learner (directly or through shared memory).
    """

    def __init__(
        self, obs_dim: int, n_actions: int, cfg: IQNConfig, seed: int | None = None
    ) -> None:
        self.cfg = cfg
        self.n_actions = n_actions
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)
        self.network = IQNNetwork(obs_dim, n_actions, cfg, self.generator)
        self.network.requires_grad_(False)
        self.network.eval()

    @classmethod
    def from_checkpoint(cls, payload: Mapping[str, Any], seed: int | None = None) -> IQNPolicy:
        """The policy of a learner's :meth:`IQNLearner.checkpoint` (its local network)."""
        cfg = IQNConfig.from_hyperparams(payload["config"])
        policy = cls(int(payload["obs_dim"]), int(payload["n_actions"]), cfg, seed)
        policy.network.load_state_dict(payload["local"])
        return policy

    def act(
        self, obs: np.ndarray, epsilon: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """obs [B, obs_dim] (or one [obs_dim] row) -> actions [B] (int64), Q-values [B, A].

        Each row explores with probability ``epsilon``: a uniformly random action replaces the
        greedy one (the Q-values are still those of the network)."""
        batch = np.asarray(obs, dtype=np.float32)
        if batch.ndim == 1:
            batch = batch[None]
        with torch.no_grad():
            q = self.network.q_values(
                torch.from_numpy(batch), self.cfg.k_quantiles, self.generator
            ).numpy()
        actions = q.argmax(axis=1).astype(np.int64)
        if epsilon > 0.0:
            explore = rng.random(len(actions)) < epsilon
            actions = np.where(explore, rng.integers(0, self.n_actions, len(actions)), actions)
        return actions, q
