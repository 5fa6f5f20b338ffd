"""An Atari run end to end: PPO trains on Breakout with its CNN policy, records whole games
with their scores, and `rltrack video` films its checkpoints in the game's colours."""

from __future__ import annotations

import json
from pathlib import Path

from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticCnnPolicy

from rltrack.video.encoder import probe
from tests.video.conftest import Home, train
from tests.video.test_video_cli import ended_by


def test_breakout_trains_records_games_and_films(home: Home) -> None:
    run_id = train(
        home,
        "ppo-breakout",
        algo="ppo",
        env="ALE/Breakout-v5",
        seed=0,
        total_timesteps=768,
        checkpoint_every_steps=256,
        keep_checkpoints=10,
        hyperparams={"n_steps": 128, "batch_size": 64, "n_epochs": 1},
    )
    store = home.store()
    run = store.get_run(run_id)
    assert run.status == "completed" and run.config["policy"] == "CnnPolicy"
    checkpoints = sorted(store.list_checkpoints(run_id), key=lambda c: c.timestep)
    # policy "auto" picked SB3's CNN for the stacked 84x84 frames, and the run says so.
    model = PPO.load(checkpoints[-1].path, device="cpu")
    assert isinstance(model.policy, ActorCriticCnnPolicy)
    assert model.observation_space.shape == (4, 84, 84)

    games = [e for e in store.list_episodes(run_id) if e.status == "completed"]
    assert games, "an untrained agent loses a game of Breakout in a few hundred steps"
    # A game is 5 lives; an untrained agent loses a life in ~30-60 steps, so an episode that
    # ended at a lost life would be far shorter than this.
    assert all(e.steps is not None and e.steps >= 100 for e in games)

    out = home.path / "videos" / "breakout.mp4"
    result = home.cli.in_process(
        "video", run_id[:8], "--out", str(out), "--milestones", "3", "--total-seconds", "3",
        "--size", "640x360", "--jobs", "1", "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    info = probe(out)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 640, 360)
    assert abs(info.frames - 90) <= 3
    chapters = json.loads(Path(f"{out}.chapters.json").read_text())["chapters"]
    assert [c["checkpoint_timestep"] for c in chapters] == [256, 512, 768]
    for chapter in chapters:
        ended = ended_by(store, run_id, chapter["checkpoint_timestep"])
        assert chapter["training_episodes_completed"] == len(ended)
        assert chapter["playback"][0]["episode"] == 1
    store.close()


def test_iqn_refuses_image_observations_with_the_way_out(home: Home) -> None:
    result = home.cli(
        "train", "--algo", "iqn", "--env", "ALE/Breakout-v5", "--num-actors", "0",
        "--mode", "smoke", "--no-progress",
    )  # fmt: skip
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "(4, 84, 84)" in lines[0] and "--algo ppo" in lines[0]
