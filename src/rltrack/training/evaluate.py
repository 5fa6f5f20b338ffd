"""Held-out evaluation: play checkpoints and baseline policies deterministically, sum them up.

After training, :func:`held_out_evaluation` loads the run's ``final`` and ``best`` checkpoints
and plays ``cfg.eval_episodes`` episodes with each, deterministically, on the env built with
``date_range=cfg.eval_range``. For the trading env it plays two baselines on the same env
beside them, so every number is comparable:

* ``buy_and_hold``: action 1 (long) at every step: all-in at the first bar's Open, closed at
  the last bar's Close, with the env's costs on both legs;
* ``random``: uniformly random actions from a generator seeded with the run's seed, averaged
  over ``max(eval_episodes, 5)`` episodes.

Each evaluation is summed up as an :class:`EvalSummary` (mean/std of the episode rewards, mean
length, win rate, and ``metrics``: the mean over the episodes of every scalar metric of the
final ``info``, the same keys an episode row gets) and becomes one
:class:`~rltrack.training.events.EvaluationRecorded`.

Seeding: every evaluation env is reset with the same seed at its first episode and unseeded
after that, so with ``episode_length`` set, the agent and the baselines see the same sequence
of start bars. Without ``episode_length`` a trading episode is the whole range.

Date ranges (:func:`check_ranges`): only the trading env takes them. The training range is
``cfg.train_range``, else the env's own ``env_kwargs["date_range"]`` (``--data-range``); setting
both is refused as ambiguous. An evaluation range must not overlap the training range, and
needs one: training on the whole data set would include it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import pandas as pd

from rltrack.config import ConfigError, TrainConfig
from rltrack.envs import make_env, register_envs
from rltrack.envs.trading_data import parse_date_range
from rltrack.training.episodes import episode_metrics, win_of
from rltrack.training.events import CheckpointSaved, EvaluationRecorded

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

    from rltrack.training.context import TrainContext

TRADING_ENTRY_POINT = "rltrack.envs.trading:TradingEnv"
RANDOM_MIN_EPISODES = 5
BASELINES = ("buy_and_hold", "random")  # what :func:`evaluate_baselines` plays, in order
BUY_AND_HOLD_ACTION = 1  # TradingEnv: 0 flat, 1 long, 2 short

Policy = Callable[[Any, gym.Env[Any, Any]], Any]
"""Picks an action from the observation (and the env, for action masks)."""
PolicyLoader = Callable[[str], Policy]
"""Makes the deterministic policy of the checkpoint file at a path."""
StopFn = Callable[[], bool]


class EvaluationStopped(Exception):
    """Raised when ``should_stop`` answers True between two steps of an evaluation."""


@dataclass(frozen=True, slots=True)
class EpisodeOutcome:
    reward: float
    length: int
    final_info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EvalSummary:
    """One evaluation of one policy: the numbers an ``evaluations`` row holds."""

    opponent: str
    checkpoint_path: str | None
    rewards: tuple[float, ...]
    lengths: tuple[int, ...]
    win_rate: float | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    checkpoint_kind: str | None = None

    @property
    def episodes(self) -> int:
        return len(self.rewards)

    @property
    def mean_reward(self) -> float:
        return statistics.fmean(self.rewards)

    @property
    def std_reward(self) -> float:
        return statistics.pstdev(self.rewards)

    @property
    def mean_length(self) -> float:
        return statistics.fmean(self.lengths)

    def event(self, run_id: str) -> EvaluationRecorded:
        return EvaluationRecorded(
            run_id=run_id, checkpoint_path=self.checkpoint_path, episodes=self.episodes,
            mean_reward=self.mean_reward, std_reward=self.std_reward, win_rate=self.win_rate,
            mean_length=self.mean_length, opponent=self.opponent, metrics=dict(self.metrics),
        )  # fmt: skip


# -- which env takes date ranges ----------------------------------------------------------------
def is_trading_env(env_id: str) -> bool:
    """Whether ``env_id`` is registered with rltrack's TradingEnv as its entry point."""
    register_envs()
    name = env_id.partition(":")[2] if ":" in env_id else env_id
    try:
        spec = gym.spec(name)
    except gym.error.Error:
        return False
    entry = spec.entry_point
    if isinstance(entry, str):
        return entry == TRADING_ENTRY_POINT
    from rltrack.envs.trading import TradingEnv

    return isinstance(entry, type) and issubclass(entry, TradingEnv)


def _bounds(date_range: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    start, end = parse_date_range(date_range)
    if end is not None and end == end.normalize():
        # A bare END date keeps that whole day, as the env reads it.
        end = end + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    return start, end


def ranges_overlap(a: str, b: str) -> bool:
    """Whether two inclusive ``START:END`` ranges share any instant (empty ends are open)."""
    a0, a1 = _bounds(a)
    b0, b1 = _bounds(b)
    a_before_b = a1 is not None and b0 is not None and a1 < b0
    b_before_a = b1 is not None and a0 is not None and b1 < a0
    return not (a_before_b or b_before_a)


def train_range_of(cfg: TrainConfig) -> str | None:
    """The date range the run trains on: ``train_range``, else the env's own ``date_range``."""
    if cfg.train_range is not None:
        return cfg.train_range
    given = cfg.env_kwargs.get("date_range")
    return given if isinstance(given, str) else None


def check_ranges(cfg: TrainConfig) -> None:
    """Refuse date ranges the run cannot use, with a :class:`ConfigError` naming the option."""
    if cfg.train_range is None and cfg.eval_range is None:
        return
    given = " and ".join(
        f"--{name.replace('_', '-')} {value!r}"
        for name, value in (("train_range", cfg.train_range), ("eval_range", cfg.eval_range))
        if value is not None
    )
    if not is_trading_env(cfg.env):
        raise ConfigError(
            f"{given}: env {cfg.env!r} takes no date range; train and eval ranges are for the "
            "trading env rltrack/Trading-v0"
        )
    if cfg.train_range is not None and "date_range" in cfg.env_kwargs:
        raise ConfigError(
            f"--train-range {cfg.train_range!r} and --data-range / env_kwargs.date_range "
            f"{cfg.env_kwargs['date_range']!r} both set the training data; give only one"
        )
    for option, value in (("--train-range", cfg.train_range), ("--eval-range", cfg.eval_range)):
        try:
            if value is not None:
                parse_date_range(value)
        except ValueError as exc:
            raise ConfigError(f"{option}: {exc}") from None
    if cfg.eval_range is None:
        return
    train = train_range_of(cfg)
    if train is None:
        raise ConfigError(
            f"--eval-range {cfg.eval_range!r}: the run trains on the whole data set, which "
            "includes it; give --train-range too, a range that ends before it"
        )
    try:
        overlap = ranges_overlap(train, cfg.eval_range)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if overlap:
        raise ConfigError(
            f"--eval-range {cfg.eval_range!r} overlaps the training range {train!r}; a held-out "
            "range must not share any date with the data the agent trains on"
        )


def train_env_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """``env_kwargs`` for the training envs: ``train_range`` becomes ``date_range`` when set."""
    if cfg.train_range is None:
        return dict(cfg.env_kwargs)
    return {**cfg.env_kwargs, "date_range": cfg.train_range}


def eval_env_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """``env_kwargs`` for the held-out evaluation env (``cfg.eval_range`` must be set)."""
    if cfg.eval_range is None:
        raise ValueError("eval_env_kwargs: the config has no eval_range")
    return {**cfg.env_kwargs, "date_range": cfg.eval_range}


# -- playing -------------------------------------------------------------------------------------
def play(
    env: gym.Env[Any, Any],
    policy: Policy,
    episodes: int,
    *,
    seed: int | None,
    should_stop: StopFn | None = None,
) -> list[EpisodeOutcome]:
    """Play ``episodes`` whole episodes; the first reset is seeded, the later ones continue."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    outcomes = []
    for i in range(episodes):
        obs, info = env.reset(seed=seed if i == 0 else None)
        total, length, done = 0.0, 0, False
        while not done:
            if should_stop is not None and should_stop():
                raise EvaluationStopped
            obs, reward, terminated, truncated, info = env.step(policy(obs, env))
            total += float(reward)
            length += 1
            done = terminated or truncated
        outcomes.append(EpisodeOutcome(total, length, dict(info)))
    return outcomes


def summarize(
    opponent: str,
    outcomes: Sequence[EpisodeOutcome],
    checkpoint_path: str | None = None,
    checkpoint_kind: str | None = None,
) -> EvalSummary:
    """Mean/std reward, mean length, win rate and the mean of every scalar final metric.

    The win rate is the mean of the episodes' ``win`` (or ``is_success``) when the env reports
    one, else the mean of the env's own ``win_rate`` metric over the episodes that have one
    (the trading env's share of winning trades; None when no episode traded)."""
    per_episode = [episode_metrics(o.final_info) for o in outcomes]
    metrics: dict[str, float | None] = {}
    for key in dict.fromkeys(k for m in per_episode for k in m):
        if any(isinstance(m.get(key), str) for m in per_episode):
            continue  # a label, not a number to average
        present = [v for v in (_number(m.get(key)) for m in per_episode) if v is not None]
        metrics[key] = statistics.fmean(present) if present else None
    wins = [w for w in (win_of(o.final_info) for o in outcomes) if w is not None]
    if wins:
        win_rate: float | None = statistics.fmean(wins)
    else:
        win_rate = metrics.get("win_rate")
    return EvalSummary(
        opponent=opponent, checkpoint_path=checkpoint_path,
        rewards=tuple(o.reward for o in outcomes), lengths=tuple(o.length for o in outcomes),
        win_rate=win_rate, metrics=metrics, checkpoint_kind=checkpoint_kind,
    )  # fmt: skip


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


# -- policies ----------------------------------------------------------------------------------
def model_policy(model: BaseAlgorithm, *, masked: bool = False) -> Policy:
    """The model's deterministic action; with ``masked``, under the env's ``action_masks()``."""

    def act(obs: Any, env: gym.Env[Any, Any]) -> Any:
        if masked:
            masks = env.get_wrapper_attr("action_masks")()
            action, _ = model.predict(obs, deterministic=True, action_masks=masks)  # type: ignore[call-arg]
        else:
            action, _ = model.predict(obs, deterministic=True)
        return action.item() if isinstance(action, np.ndarray) and action.size == 1 else action

    return act


def sb3_loader(
    model_cls: type[BaseAlgorithm], *, device: str = "auto", masked: bool = False
) -> PolicyLoader:
    """Loads an SB3 checkpoint of ``model_cls`` and plays :func:`model_policy`."""

    def load(path: str) -> Policy:
        return model_policy(model_cls.load(path, device=device), masked=masked)

    return load


def iqn_loader(seed: int) -> PolicyLoader:
    """Loads an IQN checkpoint (rltrack's actor-learner) and plays its local network greedily
    (no exploration) on the mean of K sampled quantiles, as the actors act; the quantile
    fractions come from a generator seeded with ``seed``, so an evaluation repeats exactly."""

    def load(path: str) -> Policy:
        from rltrack.agents.iqn import IQNPolicy, load_checkpoint

        policy = IQNPolicy.from_checkpoint(load_checkpoint(path), seed)
        obs_dim = policy.network.obs_dim
        rng = np.random.default_rng(seed)  # unused: epsilon is 0

        def act(obs: Any, env: gym.Env[Any, Any]) -> int:
            row = np.asarray(obs, dtype=np.float32).reshape(1, obs_dim)
            actions, _ = policy.act(row, 0.0, rng)
            return int(actions[0])

        return act

    return load


def constant_policy(action: int) -> Policy:
    def act(obs: Any, env: gym.Env[Any, Any]) -> int:
        return action

    return act


def random_policy(seed: int | None) -> Policy:
    """Uniform random actions from the action space of the env it first plays, seeded then."""
    seeded = False

    def act(obs: Any, env: gym.Env[Any, Any]) -> Any:
        nonlocal seeded
        if not seeded:
            env.action_space.seed(seed)
            seeded = True
        return env.action_space.sample()

    return act


# -- whole evaluations ---------------------------------------------------------------------------
def evaluate_policy(
    opponent: str,
    policy: Policy,
    env_id: str,
    env_kwargs: Mapping[str, Any],
    episodes: int,
    *,
    seed: int | None,
    checkpoint_path: str | None = None,
    checkpoint_kind: str | None = None,
    should_stop: StopFn | None = None,
) -> EvalSummary:
    """Play ``policy`` on a fresh env and sum it up."""
    env = make_env(env_id, dict(env_kwargs))
    try:
        outcomes = play(env, policy, episodes, seed=seed, should_stop=should_stop)
    finally:
        env.close()
    return summarize(opponent, outcomes, checkpoint_path, checkpoint_kind)


def evaluate_checkpoint(
    model_cls: type[BaseAlgorithm],
    path: str,
    env_id: str,
    env_kwargs: Mapping[str, Any],
    episodes: int,
    *,
    seed: int | None,
    device: str = "auto",
    masked: bool = False,
    kind: str | None = None,
    should_stop: StopFn | None = None,
) -> EvalSummary:
    """Load the checkpoint at ``path`` and play it deterministically (opponent ``"agent"``)."""
    policy = sb3_loader(model_cls, device=device, masked=masked)(path)
    return evaluate_policy(
        "agent", policy, env_id, env_kwargs, episodes, seed=seed, checkpoint_path=path,
        checkpoint_kind=kind, should_stop=should_stop,
    )  # fmt: skip


def evaluate_baselines(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    episodes: int,
    *,
    seed: int | None,
    should_stop: StopFn | None = None,
) -> list[EvalSummary]:
    """Buy-and-hold and random on the trading env; nothing for other envs."""
    if not is_trading_env(env_id):
        return []
    hold = evaluate_policy(
        BASELINES[0], constant_policy(BUY_AND_HOLD_ACTION), env_id, env_kwargs, episodes,
        seed=seed, should_stop=should_stop,
    )  # fmt: skip
    rand = evaluate_policy(
        BASELINES[1], random_policy(seed), env_id, env_kwargs, max(episodes, RANDOM_MIN_EPISODES),
        seed=seed, should_stop=should_stop,
    )  # fmt: skip
    return [hold, rand]


def probe_env(env_id: str, env_kwargs: dict[str, Any], prefix: str) -> None:
    """Build and close one env; its ValueError or TypeError becomes a ConfigError."""
    try:
        make_env(env_id, env_kwargs).close()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{prefix}{exc}") from None


def eval_seed(cfg: TrainConfig) -> int:
    return 0 if cfg.seed is None else cfg.seed


def held_out_evaluation(
    cfg: TrainConfig,
    load: PolicyLoader,
    checkpoints: Sequence[tuple[str, str]],
    *,
    should_stop: StopFn | None = None,
) -> list[EvalSummary]:
    """Evaluate each ``(kind, path)`` checkpoint, played by ``load(path)``, on
    ``cfg.eval_range``, then the baselines.

    Raises :class:`EvaluationStopped` when ``should_stop`` answers True on the way."""
    kwargs = eval_env_kwargs(cfg)
    seed = eval_seed(cfg)
    out = [
        evaluate_policy(
            "agent",
            load(path),
            cfg.env,
            kwargs,
            cfg.eval_episodes,
            seed=seed,
            checkpoint_path=path,
            checkpoint_kind=kind,
            should_stop=should_stop,
        )  # fmt: skip
        for kind, path in checkpoints
    ]
    out += evaluate_baselines(
        cfg.env, kwargs, cfg.eval_episodes, seed=seed, should_stop=should_stop
    )
    return out


def final_and_best(saved: Sequence[CheckpointSaved]) -> list[tuple[str, str]]:
    """The newest ``final`` and ``best`` checkpoints among ``saved``, as (kind, path)."""
    latest = {c.kind: c.path for c in saved if c.kind in ("final", "best")}
    return [(kind, latest[kind]) for kind in ("final", "best") if kind in latest]


def record_held_out_evaluation(
    ctx: TrainContext, load: PolicyLoader, checkpoints: Sequence[tuple[str, str]]
) -> None:
    """Evaluate ``checkpoints`` and the baselines on ``eval_range`` and emit one
    EvaluationRecorded each, once all of them are done (none if a stop interrupts)."""
    try:
        results = held_out_evaluation(
            ctx.config, load, checkpoints, should_stop=lambda: ctx.stop.requested
        )
    except EvaluationStopped:
        return
    for result in results:
        ctx.sink.emit(result.event(ctx.run_id))
