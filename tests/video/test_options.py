"""Options and milestone choice: sizes, percentages, the time split, the nearest checkpoint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rltrack.tracking.entities import Checkpoint, Run
from rltrack.video.context import checkpoint_pcts, nearest, training_span, usable_checkpoints
from rltrack.video.options import (
    VideoError,
    build_options,
    check_output,
    default_pcts,
    even_pcts,
    parse_pcts,
    parse_size,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def options(**kw: object) -> object:
    base: dict[str, object] = dict(jobs=1, cpu_count=2)
    base.update(kw)
    return build_options(**base)  # type: ignore[arg-type]


def test_sizes_and_percentages() -> None:
    assert parse_size("960x540") == (960, 540) and parse_size(" 1280X720 ") == (1280, 720)
    for bad in ("960x541", "100x100", "9999x9999", "960*540"):
        with pytest.raises(VideoError):
            parse_size(bad)
    assert parse_pcts("50, 10,100%,10") == (10.0, 50.0, 100.0)
    assert even_pcts(4) == (25.0, 50.0, 75.0, 100.0)
    assert default_pcts(3) == even_pcts(3) and default_pcts(3)[-1] == 100.0
    assert len(default_pcts(50)) == 10 and default_pcts(0) == (100.0,)


def test_total_seconds_split_evenly_and_exactly() -> None:
    opts = options(total_seconds=10, milestones=4)
    frames = opts.chapter_frames(4)  # type: ignore[attr-defined]
    assert frames == [75, 75, 75, 75]
    frames = options(total_seconds=1, fps=30).chapter_frames(7)  # type: ignore[attr-defined]
    assert sum(frames) == 30 and max(frames) - min(frames) == 1
    assert options().episodes == 1  # type: ignore[attr-defined]
    assert options(total_seconds=5).episodes is None  # type: ignore[attr-defined]
    assert options(jobs=0, cpu_count=16).jobs == 16  # type: ignore[attr-defined]
    assert options(jobs=0, cpu_count=2).jobs == 2  # type: ignore[attr-defined]
    assert options(jobs=0, cpu_count=1).jobs == 1  # type: ignore[attr-defined]


def ckpt(t: int, kind: str, path: Path) -> Checkpoint:
    path.write_bytes(b"x")
    return Checkpoint(0, "r", str(path), t, None, "0" * 64, 1, kind, T0)


def run(**kw: object) -> Run:
    base: dict[str, object] = dict(
        id="r" * 32,
        name="run",
        algorithm="ppo",
        env_id="CartPole-v1",
        backend="sb3",
        status="completed",
        config={},
        start_time=T0,
        end_time=T0,
        heartbeat_at=T0,
        timesteps=1000,
    )
    base.update(kw)
    return Run(**base)  # type: ignore[arg-type]


def test_nearest_checkpoint_one_per_timestep(tmp_path: Path) -> None:
    cps = [
        ckpt(200, "best", tmp_path / "best.zip"),
        ckpt(200, "periodic", tmp_path / "p200.zip"),
        ckpt(400, "periodic", tmp_path / "p400.zip"),
        ckpt(1000, "periodic", tmp_path / "p1000.zip"),
        ckpt(1000, "final", tmp_path / "final.zip"),
    ]
    gone = Checkpoint(0, "r", str(tmp_path / "rotated.zip"), 600, None, "0" * 64, 1, "periodic", T0)
    usable = usable_checkpoints(run(), [*cps, gone], None)
    assert [(c.timestep, c.kind) for c in usable] == [
        (200, "periodic"),
        (400, "periodic"),
        (1000, "final"),
    ]
    # 300 is as near to 200 as to 400: the earlier one, the model that existed then.
    assert nearest(usable, 300).timestep == 200
    assert nearest(usable, 301).timestep == 400
    assert nearest(usable, 700).timestep == 400 and nearest(usable, 701).timestep == 1000
    # A resumed run's milestones span what it trained itself.
    assert training_span(run(metadata={"start_timestep": 100}), usable) == (100, 1000)
    # By default each checkpoint is a milestone, where it was saved; at most 10, evenly picked
    # with the newest always in.
    assert checkpoint_pcts(run(), usable) == (20.0, 40.0, 100.0)
    many = [ckpt(t, "periodic", tmp_path / f"m{t}.zip") for t in range(50, 1001, 50)]
    pcts = checkpoint_pcts(run(), many)
    assert len(pcts) == 10 and pcts[0] == 5.0 and pcts[-1] == 100.0
    assert all(nearest(many, p * 10).timestep == p * 10 for p in pcts)


def test_checkpoint_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="--checkpoint-every-steps"):
        usable_checkpoints(run(), [], None)
    missing = Checkpoint(0, "r", str(tmp_path / "x.zip"), 1, None, "0" * 64, 1, "final", T0)
    with pytest.raises(VideoError, match="moved or deleted"):
        usable_checkpoints(run(), [missing], None)


def test_output_checks(tmp_path: Path) -> None:
    assert check_output(tmp_path / "new" / "v.mp4") == (tmp_path / "new" / "v.mp4").resolve()
    assert (tmp_path / "new").is_dir() and not list((tmp_path / "new").iterdir())
    (tmp_path / "f").write_text("")
    for bad, text in (
        (tmp_path / "f" / "v.mp4", "cannot create the folder"),
        (tmp_path, "is a folder"),
        (tmp_path / "v.webm", "ending in .mp4"),
    ):
        with pytest.raises(VideoError, match=text):
            check_output(bad)
