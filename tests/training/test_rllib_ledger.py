"""The rllib backend's bookkeeping without a cluster: the runners' recorder fed real RLlib
episode objects (cut into chunks as RLlib cuts them), the driver's ledger fed reports, result
metrics, checkpoint archives and the Ray settings it checks."""

from __future__ import annotations

import datetime as dt
import socket
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rltrack.config import ConfigError, build_config
from rltrack.training.backends.rllib.algorithms import build_config as rllib_config
from rltrack.training.backends.rllib.algorithms import split_hyperparams
from rltrack.training.backends.rllib.archive import CheckpointError, pack, unpacked
from rltrack.training.backends.rllib.backend import result_metrics
from rltrack.training.backends.rllib.callbacks import EpisodeRecorder
from rltrack.training.backends.rllib.cluster import connect, cpus_per_runner
from rltrack.training.backends.rllib.ledger import RunnerLedger
from rltrack.training.backends.rllib.reports import Began, Finished, InFlight, RunnerReport
from rltrack.training.events import EpisodeEnded, EpisodeStarted, TradeRecord
from tests.conftest import Sink

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def report(
    worker: int, items: list[Any], *, inc: str = "a", first: int = 0, steps: int = 0,
    in_flight: tuple[InFlight, ...] = (),
) -> RunnerReport:  # fmt: skip
    return RunnerReport(worker, f"{worker}{inc}", 100 + worker, "node", 2, first, tuple(items),
                        in_flight, steps)  # fmt: skip


def finished(env: int, steps: int, reward: float, when: float, runner_steps: int) -> Finished:
    return Finished(env, "completed", runner_steps, steps, 0, reward, at(when))


# -- the driver's ledger ----------------------------------------------------------------------
def test_indices_follow_start_time_across_runners_and_slots_are_runner_times_env() -> None:
    sink = Sink()
    ledger = RunnerLedger(sink, "run", envs_per_runner=2)
    r1 = report(1, [Began(0, 0, at(0)), Began(1, 0, at(3)), finished(0, 5, 5.0, 6, 5)], steps=5)
    # Runner 2's clock runs backwards between its two items: its own order still holds.
    r2 = report(2, [Began(1, 0, at(2)), Began(0, 0, at(1))], steps=0)
    ledger.apply([r1, r2])
    starts = [(e.index, e.env_slot) for e in sink.of(EpisodeStarted)]
    assert starts == [(0, 0), (1, 3), (2, 2), (3, 1)]
    (end,) = sink.of(EpisodeEnded)
    assert (end.index, end.env_slot, end.steps, end.total_reward) == (0, 0, 5, 5.0)
    assert ledger.timesteps == end.end_timestep == 5


def test_a_report_sent_again_is_not_applied_twice() -> None:
    sink = Sink()
    ledger = RunnerLedger(sink, "run", envs_per_runner=1)
    first = report(1, [Began(0, 0, at(0)), finished(0, 3, 3.0, 1, 3), Began(0, 3, at(2))], steps=3)
    ledger.apply([first])
    # The reply was lost; the runner sends what is unacknowledged again, plus what is new.
    again = report(1, [*first.items, finished(0, 4, 4.0, 3, 7)], steps=7)
    ledger.apply([again])
    assert ledger.acked == {"1a": 4}
    assert [e.index for e in sink.of(EpisodeStarted)] == [0, 1]
    assert [(e.index, e.steps) for e in sink.of(EpisodeEnded)] == [(0, 3), (1, 4)]
    assert ledger.timesteps == 7 and not ledger.live


def test_a_restarted_runner_errors_the_episodes_of_the_dead_one() -> None:
    sink = Sink()
    ledger = RunnerLedger(sink, "run", envs_per_runner=2, start_timestep=100)
    trade = TradeRecord("long", 0, 2, 10.0, 11.0, 1.0, 0.9, 0.1)
    so_far = (InFlight(0, 7, 0, 7.0, {"pnl": 0.9}, (trade,)), InFlight(1, 2, 0, 2.0))
    ledger.apply([report(1, [Began(0, 0, at(0)), Began(1, 0, at(0))], steps=9, in_flight=so_far)])
    ledger.apply([report(1, [Began(0, 0, at(5))], inc="b", steps=1)])  # a new incarnation
    ends = {e.env_slot: e for e in sink.of(EpisodeEnded)}
    assert {e.status for e in ends.values()} == {"error"}
    assert (ends[0].steps, ends[0].total_reward, ends[0].metrics) == (7, 7.0, {"pnl": 0.9})
    assert ends[0].trades == (trade,) and ends[1].steps == 2
    assert [e.env_slot for e in sink.of(EpisodeStarted)] == [0, 1, 0]
    # Both incarnations' steps count; the run started at the parent's 100.
    assert ledger.timesteps == 110 and set(ledger.live) == {0}


def test_an_abandoned_runner_is_closed_and_then_ignored() -> None:
    sink = Sink()
    ledger = RunnerLedger(sink, "run", envs_per_runner=1)
    ledger.apply([report(1, [Began(0, 0, at(0))], in_flight=(InFlight(0, 4, 2, 4.0),))])
    assert ledger.abandon(1, "truncated") == 1
    ledger.apply([report(1, [finished(0, 9, 9.0, 1, 9)], first=1)])
    (end,) = sink.of(EpisodeEnded)
    assert (end.status, end.steps, end.drain_steps) == ("truncated", 4, 2)


def test_the_driver_runner_steps_slots_from_zero() -> None:
    ledger = RunnerLedger(Sink(), "run", envs_per_runner=3)
    assert [ledger.slot(0, j) for j in range(3)] == [0, 1, 2]
    assert [ledger.slot(2, j) for j in range(3)] == [3, 4, 5]


# -- the runner's recorder, with RLlib's own episode objects ------------------------------------
class Runner:
    """What the recorder reads of an env runner."""

    worker_index = 2
    num_envs = 1


def play(
    recorder: EpisodeRecorder, episode: SingleAgentEpisode, rewards: list[float], first: int = 0
) -> None:
    """Steps ``first``, ``first + 1``, ...; each step's info says its number as "pnl"."""
    for k, r in enumerate(rewards, first):
        episode.add_env_step(np.zeros(2, np.float32), 0, r, infos={"pnl": float(k)})
        recorder.on_episode_step(episode=episode, env_index=0)


def test_recorder_adds_up_every_chunk_and_acknowledged_items_go() -> None:
    recorder = EpisodeRecorder()
    recorder.on_environment_created(env_runner=Runner(), env_context={})
    space = gym.spaces.Box(-1, 1, (2,), np.float32)
    episode = SingleAgentEpisode(observation_space=space, action_space=gym.spaces.Discrete(2))
    episode.add_env_reset(np.zeros(2, np.float32))
    recorder.on_episode_start(episode=episode, env_index=0)
    play(recorder, episode, [1.0, 2.0])
    chunk = episode.cut()  # sample() returned; the episode goes on in a new chunk
    play(recorder, chunk, [3.0, 4.0, 5.0], first=2)
    first = recorder.report()
    assert first.in_flight == (InFlight(0, 5, 0, 15.0, {"pnl": 4.0}, ()),)
    chunk.is_terminated = True
    recorder.on_episode_end(episode=chunk, env_index=0)
    second = recorder.report()
    assert second.first_seq == 0 and len(second.items) == 2, "nothing acknowledged yet"
    end = second.items[1]
    assert isinstance(end, Finished)
    assert (end.steps, end.reward, end.status, end.metrics) == (5, 15.0, "completed", {"pnl": 4.0})
    assert second.runner_steps == 5 and second.worker_index == 2
    assert recorder.report(acked=2).items == () and recorder.first_seq == 2


def test_recorder_drain_bound_truncates_and_new_episodes_are_not_tracked() -> None:
    recorder = EpisodeRecorder()
    recorder.on_environment_created(env_runner=Runner(), env_context={})
    space = gym.spaces.Box(-1, 1, (2,), np.float32)
    episode = SingleAgentEpisode(observation_space=space, action_space=gym.spaces.Discrete(2))
    episode.add_env_reset(np.zeros(2, np.float32))
    recorder.on_episode_start(episode=episode, env_index=0)
    play(recorder, episode, [1.0])
    recorder.drain_max_steps = 3
    play(recorder, episode, [1.0, 1.0, 1.0])
    recorder.on_episode_start(episode=episode, env_index=0)  # RLlib's reset after the end
    items = recorder.report().items
    assert [type(i).__name__ for i in items] == ["Began", "Finished"]
    end = items[1]
    assert isinstance(end, Finished)
    assert (end.status, end.steps, end.drain_steps, end.reward) == ("truncated", 4, 3, 4.0)
    assert recorder.runner_steps == 1 and not recorder.live


# -- results, archives, settings ------------------------------------------------------------------
def test_result_metrics_keep_numeric_leaves_under_rllib() -> None:
    result = {
        "env_runners": {"episode_return_mean": np.float64(21.5), "num_episodes": 3,
                        "sample": float("nan"), "name": "x", "flag": True},
        "learners": {"default_policy": {"total_loss": np.array(0.25)}},
        "config": {"lr": 1e-3}, "timestamp": 17, "training_iteration": 4,
    }  # fmt: skip
    assert result_metrics(result) == {
        "rllib/env_runners/episode_return_mean": 21.5, "rllib/env_runners/num_episodes": 3.0,
        "rllib/learners/default_policy/total_loss": 0.25, "rllib/training_iteration": 4.0,
    }  # fmt: skip


def test_archive_round_trip_and_refusals(tmp_path: Path) -> None:
    src = tmp_path / "ckpt"
    (src / "learner_group").mkdir(parents=True)
    (src / "rllib_checkpoint.json").write_text("{}")
    (src / "learner_group" / "state.pkl").write_bytes(b"\x00weights")
    pack(src, tmp_path / "c.zip")
    with unpacked(tmp_path / "c.zip") as d:
        assert (d / "learner_group" / "state.pkl").read_bytes() == b"\x00weights"
    assert not d.exists()
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("rllib_checkpoint.json", "{}")
        z.writestr("../outside.txt", "x")
    with pytest.raises(CheckpointError, match="outside"), unpacked(tmp_path / "evil.zip"):
        pass
    (tmp_path / "sb3.zip").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a zip"), unpacked(tmp_path / "sb3.zip"):
        pass


def test_cpus_per_runner_fits_every_runner() -> None:
    assert cpus_per_runner(2, 2) == 1.0 and cpus_per_runner(2, 4) == 0.5
    assert cpus_per_runner(8, 2) == 1.0 and cpus_per_runner(2, 3) == 0.6667
    with pytest.raises(ConfigError, match="no CPU"):
        cpus_per_runner(0, 2)


def rllib_cfg(**over: Any) -> Any:
    return build_config(overrides={"algo": "ppo", "backend": "rllib", **over})


@pytest.mark.parametrize(
    ("hyperparams", "needle"),
    [
        ({"n_steps": 128}, "n_steps: not a setting of RLlib's PPOConfig.training()"),
        ({"num_env_runners": 4}, "hyperparams.num_env_runners: set it with --num-env-runners"),
        ({"lr": "fast"}, "lr='fast': RLlib wants a number"),
        ({"model_config": 3}, "hyperparams.model_config: a mapping"),
        ({"minibatch_size": 512}, "refused them"),
    ],
)
def test_bad_hyperparams_are_config_errors(hyperparams: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        cfg = rllib_cfg(hyperparams={"train_batch_size_per_learner": 256, **hyperparams})
        rllib_config(
            cfg, "CartPole-v1", env_config={}, cpus_per_runner=1, gpus_per_learner=0,
            callbacks=EpisodeRecorder,
        )  # fmt: skip
    assert needle in str(err.value)


def test_split_hyperparams_routes_each_key() -> None:
    from ray.rllib.algorithms.dqn import DQNConfig

    split = split_hyperparams(
        "dqn", DQNConfig,
        {"lr": 1e-3, "epsilon": [[0, 1.0]], "rollout_fragment_length": 4,
         "min_sample_timesteps_per_iteration": 50, "model_config": {"fcnet_hiddens": [8]},
         "restart_failed_env_runners": False},
    )  # fmt: skip
    assert split.training == {"lr": 1e-3, "epsilon": [[0, 1.0]]}
    assert split.env_runners == {"rollout_fragment_length": 4}
    assert split.reporting["min_sample_timesteps_per_iteration"] == 50
    assert split.fault_tolerance["restart_failed_env_runners"] is False
    assert split.model_config == {"fcnet_hiddens": [8]}
    # rltrack's defaults: failed runners come back after 1 s; IMPALA iterations are short.
    impala = split_hyperparams("impala", DQNConfig, {})
    assert impala.reporting["min_time_s_per_iteration"] == 1.0
    assert impala.fault_tolerance == {
        "restart_failed_env_runners": True, "delay_between_env_runner_restarts_s": 1.0,
    }  # fmt: skip


def test_a_ray_address_nothing_answers_on_is_refused_at_once() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and closed again: nothing listens there
    with pytest.raises(ConfigError, match=f"--ray-address 127.0.0.1:{port}: no Ray cluster"):
        connect(rllib_cfg(ray_address=f"127.0.0.1:{port}"))
    with pytest.raises(ConfigError, match="write auto, or HOST:PORT"):
        connect(rllib_cfg(ray_address="nowhere"))
