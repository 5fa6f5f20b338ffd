"""`rltrack video` end to end: real runs, the real command, the file read back with ffmpeg."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rltrack.tracking.store import Store
from rltrack.video.encoder import probe
from tests.api.conftest import serve
from tests.video.conftest import CHECKPOINT_EVERY, TIMESTEPS, Home, train


def ended_by(store: Store, run_id: str, timestep: int) -> list[float]:
    """Rewards of the run's episodes ended at or before ``timestep``, read episode by episode."""
    return [
        e.total_reward
        for e in store.list_episodes(run_id)
        if e.status != "started" and e.end_timestep is not None and e.end_timestep <= timestep
    ]


def check_chapters_match_records(store: Store, run_id: str, chapters: list[dict[str, Any]]) -> None:
    run = store.get_run(run_id)
    recorded = {c.path: c for c in store.list_checkpoints(run_id)}
    frame = 0
    for ch in chapters:
        assert ch["checkpoint_path"] in recorded and Path(ch["checkpoint_path"]).is_file()
        ckpt = recorded[ch["checkpoint_path"]]
        assert ch["checkpoint_timestep"] == ckpt.timestep
        rewards = ended_by(store, run_id, ckpt.timestep)
        assert rewards, "a checkpoint after 512 steps has episodes before it"
        assert ch["training_episodes_completed"] == len(rewards)
        assert ch["best_reward"] == max(rewards)
        assert abs(ch["avg_reward"] - sum(rewards) / len(rewards)) < 1e-9
        hours = (ckpt.created_at - run.start_time).total_seconds() / 3600
        assert abs(ch["training_hours"] - hours) < 1e-5
        # Chapters follow each other without a gap.
        assert ch["start_frame"] == frame and ch["end_frame"] > frame
        frame = ch["end_frame"]
        # Playback episodes are numbered from 1, one after the other; each chapter's frames
        # are its episodes' frames.
        played = ch["playback"]
        assert [p["episode"] for p in played] == list(range(1, len(played) + 1))
        assert sum(p["frames"] for p in played) <= ch["end_frame"] - ch["start_frame"]
    # The episode counts grow with the checkpoints.
    counts = [c["training_episodes_completed"] for c in chapters]
    assert counts == sorted(counts)


def render(home: Home, out: Path, *args: str, jobs: str = "1") -> list[dict[str, Any]]:
    """`rltrack video ARGS --out OUT` in this process; the chapters of the sidecar."""
    result = home.cli.in_process("video", *args, "--out", str(out), "--jobs", jobs, "--no-progress")
    assert result.code == 0, result.stderr
    chapters: list[dict[str, Any]] = json.loads(Path(f"{out}.chapters.json").read_text())[
        "chapters"
    ]
    return chapters


def test_video_is_h264_with_the_training_context_of_each_checkpoint(
    home: Home, ppo_run: str, store: Store
) -> None:
    out = home.path / "videos" / "ppo.mp4"
    result = home.cli(
        "video",
        ppo_run[:8],
        "--out",
        str(out),
        "--milestones",
        "4",
        "--total-seconds",
        "4",
        "--fps",
        "30",
        "--size",
        "640x360",
        "--jobs",
        "1",
        "--no-progress",
    )
    assert result.code == 0, result.stderr
    assert str(out) in result.stdout

    info = probe(out)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 640, 360)
    assert info.fps == 30
    # 4 s at 30 fps, split over 4 milestones: 120 frames, within a frame per chapter.
    assert abs(info.frames - 120) <= 4
    assert abs(info.seconds - 4.0) <= 4 / 30 + 1e-6

    sidecar = json.loads(Path(f"{out}.chapters.json").read_text())
    assert sidecar["run_id"] == ppo_run and sidecar["fps"] == 30 and sidecar["size"] == [640, 360]
    chapters = sidecar["chapters"]
    assert [c["milestone_pct"] for c in chapters] == [25, 50, 75, 100]
    assert [c["checkpoint_timestep"] for c in chapters] == [512, 1024, 1536, 2048]
    assert chapters[-1]["end_frame"] == info.frames
    assert [c["end_frame"] - c["start_frame"] for c in chapters] == [30, 30, 30, 30]
    check_chapters_match_records(store, ppo_run, chapters)

    # Registered with the run, chapters and all, so the API and dashboard show it.
    [artifact] = [a for a in store.list_artifacts(ppo_run) if a.path == str(out)]
    assert artifact.kind == "video" and artifact.media_type == "video/mp4"
    assert artifact.size == out.stat().st_size
    assert artifact.metadata["chapters"] == chapters
    assert artifact.metadata["frames"] == info.frames


def test_the_api_lists_and_serves_the_video(
    home: Home, ppo_run: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = home.path / "videos" / "api.mp4"
    render(home, out, ppo_run, "--milestones", "2", "--total-seconds", "1")
    monkeypatch.setenv("RLTRACK_HOME", str(home.path))
    # A real uvicorn server on a loopback port, like the API tests'.
    with contextmanager(serve)(home.url) as client:
        listed = client.get(f"/api/training-runs/{ppo_run}/artifacts").json()
        [video] = [a for a in listed if a["name"] == "api.mp4"]
        assert video["media_type"] == "video/mp4" and video["kind"] == "video"
        assert len(video["metadata"]["chapters"]) == 2
        part = client.get(video["url"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == out.read_bytes()[:100]


def test_whole_episodes_without_a_time_budget(home: Home, ppo_run: str, store: Store) -> None:
    out = home.path / "videos" / "episodes.mp4"
    chapters = render(
        home,
        out,
        ppo_run,
        "--milestone-pcts",
        "50,100",
        "--episodes-per-milestone",
        "2",
        "--deterministic",
        "--size",
        "480x270",
    )
    check_chapters_match_records(store, ppo_run, chapters)
    for ch in chapters:
        played = ch["playback"]
        assert [p["episode"] for p in played] == [1, 2] and all(p["ended"] for p in played)
        # A CartPole episode shows its reset frame and one frame per step (reward 1 each).
        assert all(p["frames"] == p["score"] + 1 for p in played)
        assert ch["end_frame"] - ch["start_frame"] == sum(p["frames"] for p in played)
    info = probe(out)
    assert (info.width, info.height) == (480, 270)
    assert info.frames == chapters[-1]["end_frame"]


def test_two_runs_side_by_side(home: Home, ppo_run: str, dqn_run: str, store: Store) -> None:
    out = home.path / "videos" / "grid.mp4"
    render(home, out, ppo_run, dqn_run, "--milestones", "2", "--total-seconds", "2", jobs="2")
    info = probe(out)
    assert (info.codec, info.width, info.height) == ("h264", 960, 540)
    assert abs(info.frames - 60) <= 2
    sidecar = json.loads(Path(f"{out}.chapters.json").read_text())
    assert sidecar["run_ids"] == [ppo_run, dqn_run]
    for entry in sidecar["runs"]:
        check_chapters_match_records(store, entry["run_id"], entry["chapters"])
    ppo, dqn = (entry["chapters"] for entry in sidecar["runs"])
    # Aligned by milestone: the same frames, each run's own checkpoint of that milestone.
    assert [(c["start_frame"], c["end_frame"]) for c in ppo] == [
        (c["start_frame"], c["end_frame"]) for c in dqn
    ]
    assert [c["checkpoint_timestep"] for c in dqn] == [TIMESTEPS // 2, TIMESTEPS]
    for run_id in (ppo_run, dqn_run):
        [artifact] = [a for a in store.list_artifacts(run_id) if a.path == str(out)]
        assert artifact.metadata["side_by_side"] == [ppo_run, dqn_run]


def test_default_output_in_the_run_folder(home: Home, dqn_run: str, store: Store) -> None:
    result = home.cli.in_process(
        "video", dqn_run, "--total-seconds", "1", "--jobs", "1", "--no-progress"
    )
    assert result.code == 0, result.stderr
    out = home.path / "runs" / dqn_run / "videos" / "milestones.mp4"
    assert out.is_file() and Path(f"{out}.chapters.json").is_file()
    chapters = json.loads(Path(f"{out}.chapters.json").read_text())["chapters"]
    # Without --milestones: one per distinct checkpoint (512, 1024, 1536, 2048), each playing
    # its own checkpoint at the point of training where it was saved.
    assert len(chapters) == TIMESTEPS // CHECKPOINT_EVERY
    steps = [c["checkpoint_timestep"] for c in chapters]
    assert steps == sorted(set(steps))
    assert [c["milestone_pct"] for c in chapters] == [
        pytest.approx(100 * t / max(steps)) for t in steps
    ]
    assert any(a.path == str(out) for a in store.list_artifacts(dqn_run))


# -- errors --------------------------------------------------------------------------------------
def test_run_without_checkpoints_is_a_usage_error(home: Home, store: Store) -> None:
    # The env crashes after 300 steps, before any checkpoint: a failed run without one.
    run_id = train(
        home,
        "crashed",
        algo="ppo",
        env="tests.gym_envs:CrashingCartPole-v0",
        total_timesteps=2048,
        env_kwargs={"crash_at": 300},
        hyperparams={"n_steps": 128},
    )
    assert store.get_run(run_id).status == "failed" and not store.list_checkpoints(run_id)
    result = home.cli.in_process("video", run_id, "--no-progress")
    assert result.code == 2
    assert "no checkpoints" in result.stderr and "--checkpoint-every-steps" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_output_that_cannot_be_written_is_a_usage_error(home: Home, ppo_run: str) -> None:
    a_file = home.path / "plain-file"
    a_file.write_text("not a folder")
    cases = {
        str(a_file / "video.mp4"): "cannot create the folder",
        str(home.path): "is a folder",
        str(home.path / "video.avi"): "ending in .mp4",
    }
    for out, message in cases.items():
        result = home.cli.in_process("video", ppo_run, "--out", out, "--no-progress")
        assert result.code == 2, (out, result.stdout)
        assert message in result.stderr, (out, result.stderr)
        assert "Traceback" not in result.stderr
    assert not any(home.path.glob("video.avi*"))


def test_env_that_cannot_render_is_a_usage_error(home: Home) -> None:
    run_id = train(
        home,
        "bandit",
        algo="maskable_ppo",
        env="rltrack/MaskedBandit-v0",
        total_timesteps=256,
        checkpoint_every_steps=128,
        hyperparams={"n_steps": 64, "batch_size": 32},
    )
    result = home.cli.in_process("video", run_id, "--no-progress")
    assert result.code == 2
    assert "rltrack/MaskedBandit-v0" in result.stderr and "rgb_array" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_options_are_usage_errors(home: Home, ppo_run: str) -> None:
    cases = [
        (["--size", "961x540"], "even width and height"),
        (["--size", "big"], "WIDTHxHEIGHT"),
        (["--milestones", "3", "--milestone-pcts", "10,20"], "not both"),
        (["--milestone-pcts", "0,50"], "not in (0, 100]"),
        (["--total-seconds", "0.05", "--milestones", "4"], "fewer than the 4 milestones"),
        (["--episodes-per-milestone", "0"], "at least one episode"),
    ]
    for args, message in cases:
        result = home.cli.in_process("video", ppo_run, *args, "--no-progress")
        assert result.code == 2, (args, result.stdout)
        assert message in result.stderr, (args, result.stderr)
    result = home.cli.in_process("video", "no-such-run", "--no-progress")
    assert result.code == 2 and "no-such-run" in result.stderr
    result = home.cli.in_process("video", ppo_run, ppo_run, "--no-progress")
    assert result.code == 2 and "given twice" in result.stderr


def test_resumed_run_counts_the_training_it_continues(
    home: Home, ppo_run: str, store: Store
) -> None:
    child = train(
        home,
        "ppo-resumed",
        resume=ppo_run,
        algo="ppo",
        env="CartPole-v1",
        seed=3,
        total_timesteps=1024,
        checkpoint_every_steps=CHECKPOINT_EVERY,
        keep_checkpoints=10,
        hyperparams={"n_steps": 128, "batch_size": 64, "n_epochs": 2},
    )
    out = home.path / "videos" / "resumed.mp4"
    chapters = render(home, out, child, "--milestones", "2", "--total-seconds", "1")
    parent_rewards = ended_by(store, ppo_run, TIMESTEPS)
    for ch in chapters:
        assert ch["checkpoint_timestep"] > TIMESTEPS  # the child's own checkpoints
        rewards = parent_rewards + ended_by(store, child, ch["checkpoint_timestep"])
        assert ch["training_episodes_completed"] == len(rewards)
        assert ch["best_reward"] == max(rewards)
        assert abs(ch["avg_reward"] - sum(rewards) / len(rewards)) < 1e-9


def test_episodes_that_end_early_hold_their_last_frame(home: Home, dqn_run: str) -> None:
    out = home.path / "videos" / "held.mp4"
    chapters = render(
        home,
        out,
        dqn_run,
        "--milestones",
        "2",
        "--total-seconds",
        "20",
        "--episodes-per-milestone",
        "1",
        "--deterministic",
    )
    for ch in chapters:
        [played] = ch["playback"]
        # 300 frames each; a 2,048-step DQN balances far less than 300 steps.
        assert ch["end_frame"] - ch["start_frame"] == 300
        assert played["episode"] == 1 and played["ended"] and played["frames"] < 300
    assert probe(out).frames == 600
