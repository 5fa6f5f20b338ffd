"""Which checkpoints `rltrack evaluate` plays (:mod:`rltrack.evaluator`): the named ones, each once,
files that exist, and one agent's of a run of several."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rltrack.evaluator import EvaluateError, agent_checkpoints, pick_checkpoints, plan
from rltrack.tracking.entities import Checkpoint, Run

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def run(**config: object) -> Run:
    return Run(
        id="0123456789abcdef", name="r", algorithm="ppo", env_id="CartPole-v1", backend="sb3",
        status="completed", config=dict(config), start_time=T0, end_time=T0, heartbeat_at=T0,
    )  # fmt: skip


def saved(folder: Path, kind: str, timestep: int, name: str | None = None) -> Checkpoint:
    path = folder / (name or f"{kind}_{timestep}.zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"weights")
    return Checkpoint(
        id=timestep, run_id="0123456789abcdef", path=str(path), timestep=timestep,
        episode_index=None, sha256="", size=7, kind=kind,
        created_at=T0 + dt.timedelta(seconds=timestep),
    )  # fmt: skip


@pytest.fixture
def history(tmp_path: Path) -> list[Checkpoint]:
    return [
        saved(tmp_path, "periodic", 1000),
        saved(tmp_path, "best", 1000),
        saved(tmp_path, "periodic", 2000),
        saved(tmp_path, "periodic", 3000),
        saved(tmp_path, "final", 3000),
    ]


def picked(history: list[Checkpoint], *choices: str) -> list[tuple[str | None, int | None]]:
    return [(t.kind, t.timestep) for t in pick_checkpoints(run(), history, choices)]


def test_the_default_is_the_final_checkpoint_else_the_latest(history: list[Checkpoint]) -> None:
    assert picked(history) == [("final", 3000)]
    assert picked(history[:3]) == [("periodic", 2000)]


def test_named_checkpoints_each_once_in_the_order_asked(history: list[Checkpoint]) -> None:
    assert picked(history, "best", "2000", "best") == [("best", 1000), ("periodic", 2000)]
    assert picked(history, "latest") == [("final", 3000)]
    # One per timestep; the final one keeps its name where a periodic one has the same weights.
    assert picked(history, "all") == [("periodic", 1000), ("periodic", 2000), ("final", 3000)]


def test_a_file_is_played_as_the_recorded_checkpoint_it_is(
    history: list[Checkpoint], tmp_path: Path
) -> None:
    assert picked(history, history[2].path) == [("periodic", 2000)]
    other = tmp_path / "elsewhere.zip"
    other.write_bytes(b"weights")
    assert picked(history, str(other)) == [(None, None)]


@pytest.mark.parametrize(
    ("choices", "needle"),
    [
        (("1500",), "no checkpoint at timestep 1,500; the nearest are at 1,000, 2,000, 3,000"),
        (("best",), "saved no best checkpoint (it has final, periodic)"),
        (("bogus",), "'bogus' is not final, best, latest, all, a timestep, or a checkpoint file"),
    ],
)
def test_a_choice_that_names_nothing_says_what_exists(
    history: list[Checkpoint], choices: tuple[str, ...], needle: str
) -> None:
    without_best = [c for c in history if c.kind != "best"]
    with pytest.raises(EvaluateError) as caught:
        pick_checkpoints(run(), without_best, choices)
    assert needle in str(caught.value)


def test_no_checkpoints_or_deleted_files_are_named(history: list[Checkpoint]) -> None:
    with pytest.raises(EvaluateError, match="recorded no checkpoints; train with"):
        pick_checkpoints(run(), [], ())
    Path(history[-1].path).unlink()
    with pytest.raises(EvaluateError, match=r"final_3000\.zip does not exist any more"):
        pick_checkpoints(run(), history, ())


def test_one_agent_of_several(tmp_path: Path) -> None:
    several = run(agents=2, agent_id="bot")
    checkpoints = [saved(tmp_path / f"bot-{k}", "final", 100, "final.pt") for k in (0, 1)]
    assert agent_checkpoints(several, checkpoints, None) == checkpoints[:1]
    assert agent_checkpoints(several, checkpoints, "bot-1") == checkpoints[1:]
    with pytest.raises(EvaluateError, match="has agents bot-0, bot-1"):
        agent_checkpoints(several, checkpoints, "bot-2")
    with pytest.raises(EvaluateError, match="trains one agent"):
        agent_checkpoints(run(), checkpoints, "bot-1")


def test_the_plan_checks_its_numbers_and_ranges(history: list[Checkpoint]) -> None:
    p = plan(run(seed=7, eval_episodes=3), history)
    assert (p.episodes, p.seed, p.baselines, p.date_range) == (10, 7, False, None)
    assert plan(run(eval_episodes=25), history, episodes=4, seed=1).episodes == 4
    with pytest.raises(EvaluateError, match="--episodes 0: play at least 1 episode"):
        plan(run(), history, episodes=0)
    with pytest.raises(EvaluateError, match="takes no date range"):
        plan(run(), history, date_range="2020-01-01:2020-12-31")
