"""Every algorithm on every backend that offers it, on CartPole and on the shipped envs where
they apply, trains a tiny run end to end through the real `rltrack train`, and the whole
record is there: the run completed, its episodes are 0..N-1 and final with their reward and
steps, its checkpoints are on disk as recorded, and `rltrack check` passes.

An upgrade of SB3, sb3-contrib, Gymnasium or torch that changes what they hand rltrack (a
class in the resolved hyperparameters lost whole runs once) fails here first.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rltrack.config import ALGORITHMS, BACKENDS
from tests.conftest import Cli

TRADING = "rltrack/Trading-v0"
# (algorithm, backend, env, extra flags). Tiny step counts: each run is mostly start-up.
MATRIX: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("ppo", "sb3", "CartPole-v1", ("--num-envs", "2")),
    ("dqn", "sb3", "CartPole-v1", ()),
    ("a2c", "sb3", "CartPole-v1", ("--num-envs", "2", "--vec-env", "subproc")),
    ("qrdqn", "sb3", "CartPole-v1", ()),
    ("maskable_ppo", "sb3", "rltrack/MaskedBandit-v0", ()),
    ("ppo", "sb3", "rltrack/MaskedBandit-v0", ()),
    ("ppo", "sb3", TRADING, ()),
    ("dqn", "sb3", TRADING, ()),
    ("a2c", "sb3", TRADING, ()),
    ("qrdqn", "sb3", TRADING, ()),
    # The CNN path: SB3's CnnPolicy on stacked 84x84 frames.
    ("ppo", "sb3", "ALE/Pong-v5", ("--set", "hyperparams.n_steps=64")),
    ("iqn", "actor-learner", "CartPole-v1", ("--num-actors", "1", "--device", "cpu")),
    ("iqn", "actor-learner", TRADING, ("--num-actors", "0", "--device", "cpu")),
    # Ray RLlib's new API stack, one env runner each (tests/cli/test_rllib.py runs two).
    ("ppo", "rllib", "CartPole-v1", ("--num-env-runners", "1")),
    ("appo", "rllib", "CartPole-v1", ("--num-env-runners", "1")),
    ("impala", "rllib", "CartPole-v1", ("--num-env-runners", "1")),
    ("dqn", "rllib", "CartPole-v1", ("--num-env-runners", "1")),
]
# What SB3 puts in policy_kwargs for these: a class, recorded by its import path.
OPTIMIZER_CLASS = {"a2c": "torch.optim.rmsprop.RMSprop", "qrdqn": "torch.optim.adam.Adam"}


def test_the_matrix_covers_every_algorithm_and_backend() -> None:
    assert {algo for algo, *_ in MATRIX} == set(ALGORITHMS)
    assert {backend for _, backend, *_ in MATRIX} == set(BACKENDS)


@pytest.mark.parametrize(
    ("algo", "backend", "env", "flags"),
    MATRIX,
    ids=[f"{a}-{b}-{e.split('/')[-1]}" for a, b, e, _ in MATRIX],
)
def test_trains_and_records_completely(
    cli: Cli, algo: str, backend: str, env: str, flags: tuple[str, ...]
) -> None:
    result = cli(
        "train", "--algo", algo, "--backend", backend, "--env", env, "--mode", "smoke",
        "--total-timesteps", "384", "--checkpoint-every-steps", "192", "--no-progress", *flags,
    )  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    run_id = result.run_id

    show = cli("show", run_id, "--json").json()
    assert show["status"] == "completed"
    assert show["backend"] == backend and show["records_lost"] == 0
    if algo in OPTIMIZER_CLASS:
        policy_kwargs = show["config"]["hyperparams"]["policy_kwargs"]
        assert policy_kwargs["optimizer_class"] == OPTIMIZER_CLASS[algo]

    episodes = cli("episodes", run_id, "--json").json()
    assert episodes, "no episode recorded"
    assert [e["index"] for e in episodes] == list(range(len(episodes)))
    for e in episodes:
        assert e["status"] in ("completed", "truncated"), e
        assert e["total_reward"] is not None and e["steps"] > 0, e
        assert e["end_time"] is not None
    assert show["episodes"] == len(episodes)

    kinds = {c["kind"] for c in show["checkpoints"]}
    assert "final" in kinds and "periodic" in kinds, kinds
    for c in show["checkpoints"]:
        assert hashlib.sha256(Path(c["path"]).read_bytes()).hexdigest() == c["sha256"]

    check = cli("check", run_id)
    assert check.code == 0, check.stdout
