"""``TrackingCallback``: your own RLlib script (new API stack) recorded as `rltrack train
--backend rllib` records it: every episode of every env runner (indices in start order across
the runners), each iteration's result as metrics, and at the end the episodes in flight drained.

It reuses the rllib backend: on the env runners it *is* the backend's
:class:`~rltrack.training.backends.rllib.callbacks.EpisodeRecorder`; on the driver, after every
``algo.train()`` (RLlib's ``on_train_result``) it pulls the runners' reports into a
:class:`~rltrack.training.backends.rllib.ledger.RunnerLedger` over the run's one
:class:`~rltrack.training.episodes.EpisodeBook`, and logs the result's numeric leaves as
``rllib/<path>`` plus ``rollout/ep_rew_mean`` and ``time/fps``.

RLlib makes callback objects itself (``cls()``, on the driver and on each runner), so settings
go on a class: ``config.callbacks(TrackingCallback)`` starts a run of its own when the
algorithm is built (algorithm, env id and resolved hyperparameters filled in);
``config.callbacks(TrackingCallback.using(run, ...))`` records into a run you made, or with
``run=None`` passes ``init_kwargs`` to :func:`rltrack.init`. Call :func:`drain` before
``algo.stop()``: it finishes the episodes in flight without learning, closes what is left as
truncated and finishes the run if the callback started it. Without it, the run finishes when
the process exits, its episodes in flight closed as truncated.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import rltrack
from rltrack.run import Run
from rltrack.training.backends.rllib import algorithms, driver
from rltrack.training.backends.rllib.backend import result_metrics
from rltrack.training.backends.rllib.callbacks import EpisodeRecorder
from rltrack.training.backends.rllib.ledger import RunnerLedger
from rltrack.training.events import EpisodeStatus, MetricsLogged

__all__ = ["TrackingCallback", "drain"]

# Driver-side settings of each ``using()`` class, by its token: a Run cannot travel to the env
# runners with the class (RLlib pickles the config), and they do not need it.
_SETTINGS: dict[str, tuple[Run | None, dict[str, Any]]] = {}
_SETTINGS_LOCK = threading.Lock()


class _Ledger(RunnerLedger):
    """A RunnerLedger over the run's own book and the env slots the run gave it."""

    def __init__(self, run: Run, first_slot: int, envs_per_runner: int) -> None:
        super().__init__(
            run.logger, run.id, envs_per_runner=envs_per_runner, agent_id=run.agent_id,
            start_timestep=run.timestep,
        )  # fmt: skip
        self.book = run.book
        self.first_slot = first_slot

    def slot(self, worker_index: int, env_index: int) -> int:
        return self.first_slot + super().slot(worker_index, env_index)


class TrackingCallback(EpisodeRecorder):
    """Records every episode of an RLlib algorithm into an rltrack run; see the module."""

    _token: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.run: Run | None = None
        self.owns_run = False
        self.ledger: _Ledger | None = None
        self._started = 0.0
        self._lock = threading.Lock()

    @classmethod
    def using(cls, run: Run | None = None, **init_kwargs: Any) -> type[TrackingCallback]:
        """A TrackingCallback class for ``config.callbacks(...)`` that records into ``run``, or
        (``run=None``) into a run of its own started with ``rltrack.init(**init_kwargs)``."""
        if run is not None and init_kwargs:
            raise ValueError("give a run or rltrack.init's keyword arguments, not both")
        token = uuid.uuid4().hex
        with _SETTINGS_LOCK:
            _SETTINGS[token] = (run, dict(init_kwargs))
        return type(cls.__name__, (cls,), {"_token": token, "__module__": cls.__module__})

    # -- the driver's side ------------------------------------------------------------------
    def on_algorithm_init(self, *, algorithm: Any, **kwargs: Any) -> None:
        with _SETTINGS_LOCK:
            run, init_kwargs = _SETTINGS.get(self._token or "", (None, {}))
        config = algorithm.config
        if run is None or run.status != "running":
            run = rltrack.init(**{**_init_defaults(algorithm), **init_kwargs})
            self.owns_run = True
        self.run = run
        per_runner = max(int(config.num_envs_per_env_runner), 1)
        runners = max(int(config.num_env_runners), 1)
        first = run.reserve_slots(runners * per_runner, self._close)
        self.ledger = _Ledger(run, first, per_runner)
        self._started = time.monotonic()

    def on_train_result(self, *, algorithm: Any, result: dict[str, Any], **kwargs: Any) -> None:
        if self.ledger is None or self.run is None or self.run.status != "running":
            return
        self.pull(algorithm)
        ledger = self.ledger
        values = result_metrics(result)
        values["time/fps"] = ledger.trained / max(time.monotonic() - self._started, 1e-9)
        mean = ledger.mean_recent_reward()
        if mean is not None:
            values["rollout/ep_rew_mean"] = mean
        self.run.logger.emit(
            MetricsLogged(self.run.id, ledger.timesteps, values, episodes=ledger.finished)
        )

    def pull(self, algorithm: Any) -> None:
        """Take every runner's report into the run; close the episodes of dead runners."""
        assert self.ledger is not None and self.run is not None
        with self._lock:
            driver.pull(algorithm, self.ledger)
        self.run._advance(self.ledger.timesteps)

    def _close(self, status: EpisodeStatus, timestep: int) -> None:
        """The run ends while the algorithm still trains (an exception, a signal, exit)."""
        if self.ledger is not None:
            with self._lock:
                self.ledger.close(None, status)


def tracking_callback_of(algo: Any) -> TrackingCallback:
    """The algorithm's driver-side TrackingCallback."""
    callbacks = algo.callbacks if isinstance(algo.callbacks, list) else [algo.callbacks]
    for callback in callbacks:
        if isinstance(callback, TrackingCallback) and callback.ledger is not None:
            return callback
    raise ValueError(
        "this algorithm records nothing: build it with config.callbacks(TrackingCallback)"
    )


def drain(algo: Any, *, max_steps: int = 1000, timeout_s: float = 30.0) -> Run:
    """Call before ``algo.stop()``: step the episodes in flight to their end without learning
    (within ``max_steps`` steps each and ``timeout_s`` seconds), close what is left as
    truncated, and finish the run if the callback started it. Returns the run."""
    if max_steps < 0 or timeout_s < 0:
        raise ValueError("max_steps and timeout_s must be 0 or more")
    callback = tracking_callback_of(algo)
    run, ledger = callback.run, callback.ledger
    assert run is not None and ledger is not None
    if run.status == "running":
        callback.pull(algo)
        with callback._lock:
            driver.drain(algo, ledger, max_steps=max_steps, timeout_s=timeout_s)
            ledger.close(None, "truncated")
        run._advance(ledger.timesteps)
    run.release(callback._close)
    if callback.owns_run:
        run.finish()
    return run


def _init_defaults(algorithm: Any) -> dict[str, Any]:
    """``rltrack.init``'s algorithm, env id and config from the algorithm's own config."""
    config = algorithm.config
    name = type(algorithm).__name__.lower()
    keys = algorithms.RESOLVED.get(name, algorithms.COMMON_RESOLVED)
    hyperparams: Mapping[str, Any] = algorithms.resolved_hyperparams(
        name, config, {}
    ) if name in algorithms.RESOLVED else {
        k: getattr(config, k) for k in keys if isinstance(getattr(config, k, None), int | float)
    }  # fmt: skip
    env = config.env
    return {
        "algorithm": name,
        "env_id": env if isinstance(env, str) else getattr(env, "__name__", None),
        "config": {
            "hyperparams": dict(hyperparams),
            "seed": config.seed,
            "num_env_runners": config.num_env_runners,
            "num_envs_per_env_runner": config.num_envs_per_env_runner,
        },  # fmt: skip
    }
