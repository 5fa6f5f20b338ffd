"""The actor-learner backend: serial mode for the logic, real processes for the acceptance."""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rltrack.agents.iqn import (
    EpsilonSchedule,
    IQNConfig,
    IQNLearner,
    IQNPolicy,
    ReplayBuffer,
    Transition,
    load_checkpoint,
)
from rltrack.config import ConfigError, build_config
from rltrack.training.backends.actor_learner import ActorLearnerBackend
from rltrack.training.backends.actor_learner import backend as backend_module
from rltrack.training.backends.actor_learner.backend import PIDS_FILE, resolve_device
from rltrack.training.backends.actor_learner.ledger import EpisodeLedger, SlotOwner
from rltrack.training.backends.actor_learner.messages import (
    ActorReport,
    EpisodeBegan,
    EpisodeFinished,
    LiveEpisode,
    Steps,
)
from rltrack.training.backends.actor_learner.shared import ActorVersions, SharedModel
from rltrack.training.context import TrainContext
from rltrack.training.events import (
    CheckpointSaved,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    MetricsLogged,
    RunEnded,
    utcnow,
)
from rltrack.training.runner import run_training
from tests.conftest import Sink

# Tiny and quick. Learning starts early; epsilon goes down every 10 learner steps and does not
# reach its end within a test, so any two learner reports some steps apart show it decreasing.
TINY = {
    "hidden_sizes": [32, 32], "n_quantiles": 8, "n_target_quantiles": 8, "k_quantiles": 8,
    "batch_size": 16, "buffer_size": 5000, "learning_starts": 100,
    "target_update_interval": 20, "publish_interval": 5, "epsilon_decay_steps": 2000,
    "epsilon_decay_freq": 10,
}  # fmt: skip


@pytest.fixture(autouse=True)
def frequent_learner_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Learner metrics five times a second (the spec carries it into the learner process)."""
    monkeypatch.setattr(backend_module, "LEARNER_METRICS_EVERY_S", 0.1)


def make_ctx(tmp_path: Path, sink: Sink, **overrides: Any) -> TrainContext:
    hyperparams = {**TINY, **overrides.pop("hyperparams", {})}
    settings = {
        "algo": "iqn", "env": "CartPole-v1", "seed": 3, "total_timesteps": 1200,
        "num_actors": 0, "progress": False, "hyperparams": hyperparams,
        "device": "cpu",  # unless a test asks for another (auto would pick CUDA where there is one)
        **overrides,
    }  # fmt: skip
    cfg = build_config(overrides=settings)
    return TrainContext(config=cfg, run_id="run", run_dir=tmp_path / "run", sink=sink)


def schedule_of(cfg: IQNConfig) -> EpsilonSchedule:
    return EpsilonSchedule.from_config(cfg)


def check_records(sink: Sink, total: int, slots: set[int]) -> list[EpisodeEnded]:
    started = sink.of(EpisodeStarted)
    ended = sink.of(EpisodeEnded)
    assert sorted(e.index for e in started) == list(range(len(started)))
    assert sorted(e.index for e in ended) == list(range(len(started))), "every episode ends once"
    assert all(e.status in ("completed", "truncated") for e in ended)
    assert sum(e.steps - e.drain_steps for e in ended) == total
    assert {e.env_slot for e in ended} == slots
    return sorted(ended, key=lambda e: e.index)


def check_learner_metrics(sink: Sink, cfg: IQNConfig, prefix: str = "") -> None:
    schedule = schedule_of(cfg)
    metrics = [m.values for m in sink.of(MetricsLogged) if f"{prefix}learner/epsilon" in m.values]
    assert len(metrics) >= 2
    for values in metrics:
        step = int(values[f"{prefix}learner/training_step"])
        # The epsilon the actors read is the schedule's value at the learner's step.
        assert values[f"{prefix}learner/epsilon"] == pytest.approx(schedule.value(step), abs=1e-12)
        grad = values[f"{prefix}learner/grad_norm"]
        assert math.isfinite(grad) and grad > 0
        assert 0 < values[f"{prefix}learner/grad_norm_clipped"] <= cfg.max_grad_norm + 1e-6
        assert math.isfinite(values[f"{prefix}losses/quantile_loss"])
        assert values[f"{prefix}learner/actor_lag_versions"] >= 0
    eps = [v[f"{prefix}learner/epsilon"] for v in metrics]
    versions = [v[f"{prefix}learner/weights_version"] for v in metrics]
    assert eps == sorted(eps, reverse=True) and eps[0] > eps[-1]
    assert versions == sorted(versions) and versions[-1] > versions[0]


def check_final_publish(backend: ActorLearnerBackend, agent: int = 0) -> dict[str, Any]:
    """The shared model holds the final weights, local and target, bit for bit."""
    final = next(
        c for c in backend.checkpoints[agent].saved if c.kind == "final"
    )  # the learner wrote it after its last publish
    payload = load_checkpoint(final.path)
    assert backend.plan is not None
    version, local, target = backend.plan.shared[agent].model.snapshot()
    assert version == final.metrics["weights_version"] > 0
    for mine, theirs in ((local, payload["local"]), (target, payload["target"])):
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    return payload


# -- units ----------------------------------------------------------------------------------


def test_publish_copies_local_and_target_bit_for_bit() -> None:
    cfg = IQNConfig.from_hyperparams({**TINY, "target_update_interval": 3})
    shared = SharedModel(get_context("spawn"), 4, 2, cfg, seed=1)
    learner = IQNLearner(4, 2, cfg, "cpu", seed=2)
    _, local, target = shared.snapshot()
    learner.load_weights(local, target)
    replay = ReplayBuffer((4,), 100)
    rng = np.random.default_rng(0)
    replay.add(
        [Transition(rng.random(4, dtype=np.float32), int(i % 2), 1.0,
                    rng.random(4, dtype=np.float32), i % 7 == 0, 0.99) for i in range(64)]
    )  # fmt: skip
    for _ in range(4):  # local and target now differ from each other and from the shared model
        learner.learn(replay.sample(16, rng))
    assert not torch.equal(learner.local.psi[0].weight, learner.target.psi[0].weight)
    assert shared.publish(learner.local, learner.target) == 1
    _, local, target = shared.snapshot()
    for mine, theirs in ((local, learner.local), (target, learner.target)):
        assert all(torch.equal(v, theirs.state_dict()[k]) for k, v in mine.items())
    # Actors copy the local network only when the version moved.
    policy = IQNPolicy(4, 2, cfg, seed=5)
    assert shared.pull(policy.network, 0) == 1
    assert all(torch.equal(v, local[k]) for k, v in policy.network.state_dict().items())
    with torch.no_grad():
        policy.network.psi[0].weight.zero_()
    assert shared.pull(policy.network, 1) == 1
    assert float(policy.network.psi[0].weight.abs().sum()) == 0.0
    assert shared.publish(learner.local, learner.target) == 2


def test_actor_versions_lag() -> None:
    versions = ActorVersions(get_context("spawn"), 3)
    assert versions.lag(4) == 4
    for i, v in enumerate((4, 2, 3)):
        versions.set(i, v)
    assert versions.lag(4) == 2


def test_ledger_orders_indices_and_timesteps_across_actors() -> None:
    sink = Sink()
    owners = [SlotOwner(0, 0, "a", 0), SlotOwner(1, 0, "a", 2)]
    ledger = EpisodeLedger(sink, "run", owners, start_timestep=100)
    now = utcnow()
    ledger.apply(ActorReport(0, (EpisodeBegan(0, now), EpisodeBegan(1, now)), (), 0))
    ledger.apply(ActorReport(1, (EpisodeBegan(1, now), Steps(3)), (), 0))
    ledger.apply(
        ActorReport(
            0,
            (Steps(4), EpisodeFinished(1, "completed", 2, 0, 2.0, now), EpisodeBegan(1, now)),
            (LiveEpisode(0, 2, 0, 2.0), LiveEpisode(1, 0, 0, 0.0)),
            0,
        )
    )
    ledger.apply(ActorReport(1, (Steps(2),), (LiveEpisode(1, 5, 0, 5.0),), 0))
    starts = sink.of(EpisodeStarted)
    assert [(e.index, e.env_slot, e.start_timestep) for e in starts] == [
        (0, 0, 100), (1, 1, 100), (2, 3, 100), (3, 1, 107)
    ]  # fmt: skip
    (first_end,) = sink.of(EpisodeEnded)
    assert (first_end.index, first_end.end_timestep, first_end.agent_id) == (1, 107, "a")
    # Actor 1 dies: its episode is closed with what its last report said.
    assert ledger.finalize("error", {1}) == 1
    last = sink.of(EpisodeEnded)[-1]
    assert (last.index, last.status, last.steps, last.total_reward) == (2, "error", 5, 5.0)
    assert ledger.timesteps == 109 and sorted(ledger.live) == [0, 1]


def test_device_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    for device in ("cuda", "mps"):
        with pytest.raises(ConfigError, match=f"--device {device}"):
            resolve_device(device)


def test_configuration_errors_before_any_process(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nonsense"):
        ActorLearnerBackend(make_ctx(tmp_path, Sink(), hyperparams={"nonsense": 1}))
    with pytest.raises(ConfigError, match="actor-learner trains --algo iqn only"):
        ActorLearnerBackend(make_ctx(tmp_path, Sink(), algo="ppo", backend="actor-learner"))
    with pytest.raises(ConfigError, match="discrete action space"):
        ActorLearnerBackend(make_ctx(tmp_path, Sink(), env="Pendulum-v1"))


# -- serial mode: the same classes in one process -------------------------------------------


def test_serial_run_trains_publishes_and_records(tmp_path: Path) -> None:
    sink = Sink()
    ctx = make_ctx(tmp_path, sink, checkpoint_every_steps=500, trace_every=5)
    backend = ActorLearnerBackend(ctx)
    result = backend.train()
    assert (result.timesteps, result.stopped) == (1200, False)
    ended = check_records(sink, 1200, {0})
    assert result.episodes == len(ended)
    check_learner_metrics(sink, backend.iqn)
    # The epsilon the actor acted with: the schedule's values, never going back up.
    eps = [e.epsilon for e in ended]
    schedule = schedule_of(backend.iqn)
    allowed = {schedule.value(s) for s in range(0, 2000, 10)}
    assert all(x in allowed for x in eps)
    assert eps == sorted(eps, reverse=True) and eps[0] == 1.0 and eps[-1] < eps[0]
    assert any(e.trace for e in ended) and not all(e.trace for e in ended)
    probe = backend.probes[0]
    assert (probe.batch_device, probe.local_device, probe.target_device) == ("cpu",) * 3
    assert probe.train_mode and probe.optimizer_owns_parameters
    # Checkpoints come from the learner, with the hash of the file on disk.
    saved = sink.of(CheckpointSaved)
    assert {"periodic", "final"} <= {c.kind for c in saved}
    latest = {c.path: c for c in saved}  # best.pt is rewritten at each new best
    for c in latest.values():
        if Path(c.path).exists():  # rotated periodic ones are gone
            assert hashlib.sha256(Path(c.path).read_bytes()).hexdigest() == c.sha256
    payload = check_final_publish(backend)
    last = sink.metric("learner/training_step")[-1][1]
    assert payload["training_step"] == last


def test_serial_two_agents_are_independent(tmp_path: Path) -> None:
    sink = Sink()
    ctx = make_ctx(tmp_path, sink, agents=2, total_timesteps=1000, agent_id="bot")
    backend = ActorLearnerBackend(ctx)
    backend.train()
    ended = check_records(sink, 1000, {0, 1})
    by_agent = {e.agent_id for e in ended}
    assert by_agent == {"bot-0", "bot-1"}
    assert {e.env_slot for e in ended if e.agent_id == "bot-1"} == {1}
    for prefix in ("bot-0/", "bot-1/"):
        check_learner_metrics(sink, backend.iqn, prefix)
    assert not any(k.startswith("learner/") for m in sink.of(MetricsLogged) for k in m.values)
    assert backend.plan is not None
    w0 = backend.plan.shared[0].model.local.psi[0].weight
    w1 = backend.plan.shared[1].model.local.psi[0].weight
    assert not torch.equal(w0, w1), "each agent has its own model"
    for agent, agent_id in enumerate(("bot-0", "bot-1")):
        check_final_publish(backend, agent)
        assert all(agent_id in c.path for c in backend.checkpoints[agent].saved)


def test_serial_stop_drains_and_resume_continues(tmp_path: Path) -> None:
    ctx: TrainContext

    def stop_after_episodes(event: Event) -> None:
        if isinstance(event, EpisodeEnded) and event.index == 30:
            ctx.stop.request(signal.SIGTERM)

    sink = Sink(stop_after_episodes)
    ctx = make_ctx(tmp_path, sink, total_timesteps=100_000, num_envs=2)
    backend = ActorLearnerBackend(ctx)
    result = backend.train()
    assert result.stopped and result.timesteps < 100_000
    ended = check_records(sink, result.timesteps, {0, 1})
    drained = [e for e in ended if e.drain_steps > 0]
    assert drained and all(e.status == "completed" for e in drained)
    final = next(c for c in sink.of(CheckpointSaved) if c.kind == "final")
    step = load_checkpoint(final.path)["training_step"]
    assert step > 0

    # Resume from it: weights, optimizer and learner step go on; epsilon where it was.
    sink2 = Sink()
    ctx2 = make_ctx(tmp_path / "second", sink2, total_timesteps=400, num_envs=2)
    ctx2.resume_checkpoint, ctx2.resume_timestep = Path(final.path), result.timesteps
    backend2 = ActorLearnerBackend(ctx2)
    result2 = backend2.train()
    assert result2.timesteps == result.timesteps + 400
    ended2 = check_records(sink2, 400, {0, 1})
    assert ended2[0].start_timestep == result.timesteps
    assert ended2[0].epsilon == pytest.approx(schedule_of(backend2.iqn).value(step))
    assert backend2.probes[0].optimizer_owns_parameters
    assert load_checkpoint(backend2.checkpoints[0].saved[-1].path)["training_step"] > step


def test_serial_second_ctrl_c_skips_the_drain(tmp_path: Path) -> None:
    raised: list[bool] = []

    def second_ctrl_c(event: Event) -> None:
        if isinstance(event, EpisodeEnded) and event.index == 20 and not raised:
            raised.append(True)
            ctx.stop.request(signal.SIGINT)
            ctx.stop.request(signal.SIGINT)
            raise KeyboardInterrupt

    sink = Sink(second_ctrl_c)
    ctx = make_ctx(tmp_path, sink, total_timesteps=100_000, num_envs=2)
    outcome = run_training(ctx, name="interrupted")
    assert (outcome.status, outcome.exit_code) == ("stopped", 130)
    ended = sink.of(EpisodeEnded)
    assert {e.index for e in sink.of(EpisodeStarted)} == {e.index for e in ended}
    assert not any(e.drain_steps for e in ended)
    assert any(c.kind == "final" for c in sink.of(CheckpointSaved))


def test_serial_env_exception_fails_the_run(tmp_path: Path) -> None:
    sink = Sink()
    ctx = make_ctx(
        tmp_path, sink, env="tests.gym_envs:CrashingCartPole-v0", env_kwargs={"crash_at": 300}
    )
    outcome = run_training(ctx, name="crash")
    assert outcome.status == "failed" and outcome.error is not None
    assert "simulated env failure" in outcome.error
    ended = sink.of(EpisodeEnded)
    assert {e.index for e in sink.of(EpisodeStarted)} == {e.index for e in ended}
    assert ended[-1].status == "error"


# -- real processes -------------------------------------------------------------------------


def test_processes_train_publish_stop_and_drain(tmp_path: Path) -> None:
    ctx: TrainContext

    requested = False

    def stop_once_epsilon_decayed(event: Event) -> None:
        # Stop (like one Ctrl-C: a second one would skip the drain) once the learner process
        # is some way into the decay.
        nonlocal requested
        if requested or not isinstance(event, MetricsLogged):
            return
        if event.values.get("learner/training_step", 0) > 80:
            requested = True
            ctx.stop.request(signal.SIGINT)

    sink = Sink(stop_once_epsilon_decayed)
    ctx = make_ctx(tmp_path, sink, num_actors=2, total_timesteps=1_000_000)
    backend = ActorLearnerBackend(ctx)
    result = backend.train()
    assert result.stopped and 0 < result.timesteps < 1_000_000
    ended = check_records(sink, result.timesteps, {0, 1})
    # Gradients finite and non-zero, clipped norm <= 1, epsilon on schedule, versions growing.
    check_learner_metrics(sink, backend.iqn)
    # The learner process trained on the CPU, in train mode, with an optimizer over its weights.
    probe = backend.probes[0]
    assert (probe.device, probe.batch_device, probe.local_device) == ("cpu", "cpu", "cpu")
    assert probe.train_mode and probe.optimizer_owns_parameters
    # The published model (in this process's shared memory) is the learner's, bit for bit.
    payload = check_final_publish(backend)
    # The actors kept to the replay ratio (env steps per learner step) instead of racing ahead
    # of the learner: at most one more step of each actor's env than the learner allowed.
    cfg = backend.iqn
    allowed = cfg.learning_starts + cfg.env_steps_per_update * payload["training_step"]
    assert allowed / 2 < result.timesteps <= allowed + 2
    # Each actor's episodes: the epsilon it read from shared memory went down over the run.
    for slot in (0, 1):
        eps = [e.epsilon for e in ended if e.env_slot == slot]
        assert eps == sorted(eps, reverse=True) and eps[-1] < eps[0]
    # The stop drained the episodes in flight to their end.
    assert any(e.drain_steps > 0 and e.status == "completed" for e in ended)
    assert any(c.kind == "final" for c in sink.of(CheckpointSaved))
    assert len(_pids(tmp_path)) == 3
    assert backend.workers is not None
    for child in backend.workers.children:  # type: ignore[attr-defined]
        assert child.process.exitcode == 0


def test_killed_actor_fails_the_run_without_hanging(tmp_path: Path) -> None:
    killed: list[int] = []

    def kill_actor_one(event: Event) -> None:
        # Once actor 1 (env slot 1) has finished a few episodes, SIGKILL it.
        if killed or not isinstance(event, EpisodeEnded) or event.env_slot != 1:
            return
        if event.index >= 6:
            pid = _pids(tmp_path)["actor 1"]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    sink = Sink(kill_actor_one)
    ctx = make_ctx(tmp_path, sink, num_actors=2, total_timesteps=1_000_000)
    outcome = run_training(ctx, name="killed")  # a hang is caught by pytest-timeout
    assert killed and outcome.status == "failed" and outcome.exit_code == 1
    assert outcome.error is not None
    assert "actor 1 of agent-0" in outcome.error and "SIGKILL" in outcome.error
    assert f"pid {killed[0]}" in outcome.error
    (ended_run,) = sink.of(RunEnded)
    assert ended_run.status == "failed" and ended_run.timesteps > 0
    # Every episode that started has ended; the killed actor's in-flight one with an error.
    started = {e.index for e in sink.of(EpisodeStarted)}
    ended = {e.index: e for e in sink.of(EpisodeEnded)}
    assert started == set(ended)
    assert any(e.env_slot == 1 and e.status == "error" for e in ended.values())
    # No child is left behind.
    for name, pid in _pids(tmp_path).items():
        assert not _alive(pid), f"{name} (pid {pid}) still running"


def _pids(tmp_path: Path) -> dict[str, int]:
    data = json.loads((tmp_path / "run" / PIDS_FILE).read_text())
    out = {f"actor {a['actor_id']}": int(a["pid"]) for a in data["actors"]}
    out.update({f"learner {a['agent']}": int(a["pid"]) for a in data["learners"]})
    return out


def _alive(pid: int) -> bool:
    """Running (not a zombie waiting for its reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_learner_keeps_batches_and_model_on_the_gpu(tmp_path: Path) -> None:
    sink = Sink()
    backend = ActorLearnerBackend(make_ctx(tmp_path, sink, device="cuda", total_timesteps=600))
    backend.train()
    probe = backend.probes[0]
    assert probe.device.startswith("cuda") and probe.batch_device.startswith("cuda")
    assert probe.local_device.startswith("cuda") and probe.target_device.startswith("cuda")
    assert probe.train_mode
    check_final_publish(backend)
