"""Tests of CheckpointManager: keep-last-N rotation, best-only-on-improvement, file hashes and
the save schedule by steps and by episodes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from rltrack.training.checkpoints import CheckpointManager, sha256_of
from rltrack.training.events import CheckpointRemoved, CheckpointSaved, Event

RUN = "run0123456789abcdef"


class ListSink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class Saver:
    """A stand-in for model.save: writes different bytes on every call."""

    def __init__(self, append_zip: bool = False) -> None:
        self.calls = 0
        self.append_zip = append_zip

    def __call__(self, path: Path) -> None:
        self.calls += 1
        if self.append_zip:  # what SB3 does when the name does not end in .zip
            path = path.with_name(path.name + ".zip")
        path.write_bytes(f"weights #{self.calls}\n".encode() * self.calls)


def make(tmp_path: Path, **kw: Any) -> tuple[CheckpointManager, ListSink]:
    sink = ListSink()
    return CheckpointManager(sink, RUN, tmp_path / "ckpt", **kw), sink


def test_keeps_only_the_last_n_periodic_checkpoints(tmp_path: Path) -> None:
    mgr, sink = make(tmp_path, keep_last=2)
    saver = Saver()
    paths = [Path(mgr.save(saver, "periodic", t, t // 10).path) for t in (100, 200, 300, 400)]

    assert [p.exists() for p in paths] == [False, False, True, True]
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == sorted(
        p.name for p in paths[2:]
    )
    removed = sink.of(CheckpointRemoved)
    assert [r.path for r in removed] == [str(paths[0]), str(paths[1])]
    assert all(r.run_id == RUN for r in removed)
    # Each removal is announced right after the save that rotated it out.
    kinds = [type(e).__name__ for e in sink.events]
    assert kinds == [
        "CheckpointSaved",
        "CheckpointSaved",
        "CheckpointSaved",
        "CheckpointRemoved",
        "CheckpointSaved",
        "CheckpointRemoved",
    ]


def test_best_and_final_are_never_rotated(tmp_path: Path) -> None:
    mgr, sink = make(tmp_path, keep_last=1)
    saver = Saver()
    best = Path(mgr.save(saver, "best", 50, 1).path)
    for t in (100, 200, 300):
        mgr.save(saver, "periodic", t, None)
    final = Path(mgr.save(saver, "final", 400, 9).path)
    assert best.exists() and best.name == "best.zip"
    assert final.exists() and final.name == "final.zip"
    assert {r.path for r in sink.of(CheckpointRemoved)} == {
        str((tmp_path / "ckpt" / f"step_{t:012d}.zip").resolve()) for t in (100, 200)
    }


def test_best_is_saved_only_when_the_score_improves(tmp_path: Path) -> None:
    mgr, sink = make(tmp_path, keep_last=10)
    saver = Saver()
    scores = [1.0, 0.5, 1.0, 3.0, None, 2.0, 3.5]
    for i, score in enumerate(scores):
        mgr.save_periodic(saver, (i + 1) * 100, i, score, {"score": score or 0.0})

    saved = sink.of(CheckpointSaved)
    assert [e.kind for e in saved].count("periodic") == len(scores)
    best = [e for e in saved if e.kind == "best"]
    assert [e.timestep for e in best] == [100, 400, 700]
    assert [e.metrics["score"] for e in best] == [1.0, 3.0, 3.5]
    assert mgr.best_score == 3.5
    # One best file on disk, holding the weights of the newest best save.
    best_path = Path(best[-1].path)
    assert best_path.read_bytes() == f"weights #{saver.calls}\n".encode() * saver.calls
    assert sha256_of(best_path) == best[-1].sha256


def test_sha256_and_size_match_the_file(tmp_path: Path) -> None:
    mgr, _ = make(tmp_path)
    for timestep, saver in enumerate((Saver(), Saver(append_zip=True)), start=7):
        event = mgr.save(saver, "periodic", timestep, 0, {"loss": 0.5})
        path = Path(event.path)
        data = path.read_bytes()
        assert event.sha256 == hashlib.sha256(data).hexdigest()
        assert event.size == len(data) == path.stat().st_size
        assert path.is_absolute() and path.suffix == ".zip"
        assert event.metrics == {"loss": 0.5}
        assert event.run_id == RUN
    # No temporary files are left behind.
    assert not [p for p in (tmp_path / "ckpt").iterdir() if ".tmp" in p.name]


def test_saved_event_describes_the_checkpoint(tmp_path: Path) -> None:
    mgr, sink = make(tmp_path)
    event = mgr.save(Saver(), "final", 4096, 41)
    assert sink.events == [event]
    assert mgr.saved == [event]
    assert (event.kind, event.timestep, event.episode_index) == ("final", 4096, 41)


def test_overwritten_best_has_the_new_hash(tmp_path: Path) -> None:
    mgr, _ = make(tmp_path)
    saver = Saver()
    first = mgr.save(saver, "best", 1, 0)
    second = mgr.save(saver, "best", 2, 1)
    assert first.path == second.path
    assert first.sha256 != second.sha256
    assert sha256_of(Path(second.path)) == second.sha256


def test_due_by_steps(tmp_path: Path) -> None:
    mgr, _ = make(tmp_path, every_steps=100)
    checks = [(50, False), (99, False), (100, True), (100, False), (150, False), (199, False),
              (200, True), (450, True), (480, False), (500, True)]  # fmt: skip
    assert [mgr.due(t, 0) for t, _ in checks] == [d for _, d in checks]


def test_due_by_episodes(tmp_path: Path) -> None:
    mgr, _ = make(tmp_path, every_episodes=5)
    checks = [(0, False), (4, False), (5, True), (6, False), (9, False), (10, True), (23, True),
              (24, False), (25, True)]  # fmt: skip
    assert [mgr.due(1000 + e, e) for e, _ in checks] == [d for _, d in checks]


def test_due_by_steps_or_episodes(tmp_path: Path) -> None:
    mgr, _ = make(tmp_path, every_steps=100, every_episodes=3)
    assert mgr.due(10, 3) is True  # episodes
    assert mgr.due(100, 4) is True  # steps
    assert mgr.due(150, 5) is False
    assert mgr.due(200, 6) is True  # both at once: one checkpoint
    assert mgr.due(210, 6) is False


def test_never_due_without_a_schedule(tmp_path: Path) -> None:
    mgr, _ = make(tmp_path)
    assert not any(mgr.due(t, t) for t in range(0, 10**6, 997))


@pytest.mark.parametrize("keep", [1, 3])
def test_rotation_over_many_saves(tmp_path: Path, keep: int) -> None:
    mgr, sink = make(tmp_path, keep_last=keep, every_steps=10)
    saver = Saver()
    for t in range(1, 101):
        if mgr.due(t, 0):
            mgr.save(saver, "periodic", t, None)
    saved = sink.of(CheckpointSaved)
    assert [e.timestep for e in saved] == list(range(10, 101, 10))
    on_disk = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert on_disk == [f"step_{t:012d}.zip" for t in range(100 - 10 * (keep - 1), 101, 10)]
    live = {e.path for e in saved} - {r.path for r in sink.of(CheckpointRemoved)}
    assert {Path(p).name for p in live} == set(on_disk)
