"""The drain: when training stops, finish the episodes in flight without learning.

The driver runs :func:`drain_runner` on every runner that has episodes in flight, all at once
(``foreach_env_runner``). On the runner it

1. switches its recorder to draining: steps now count as drain steps, an episode that reaches
   ``drain_max_steps`` of them is closed as truncated at that step, and episodes that begin
   (RLlib resets an env as soon as its episode ends) are not tracked;
2. signals each env with an episode in flight to wind down (``signal_graceful_shutdown()``,
   which the trading env answers by closing its position and ending at the next step);
3. samples, with the current weights and no learner involved, until no tracked episode is left
   or ``drain_timeout`` seconds have passed; what is left then is closed as truncated with its
   metrics so far, and an env that fails closes its episodes as error;
4. returns its report, which the driver feeds to the book.

A runner that does not answer within ``drain_timeout`` plus a grace period, or that died, has
its episodes closed by the driver from its last report (truncated, or error for a dead one).
"""

from __future__ import annotations

import time
from typing import Any

from rltrack.training.backends.rllib.callbacks import recorder_of
from rltrack.training.backends.rllib.reports import RunnerReport, empty_report

# Vector steps per sample() call while draining: small enough to notice the deadline soon.
DRAIN_CHUNK = 16
# Beyond drain_timeout, how long the driver waits for a runner's drain to answer.
DRAIN_GRACE_S = 15.0


def wind_down(env_runner: Any, env_indices: list[int]) -> None:
    """Ask the sub-envs ``env_indices`` of the runner's vector env to end their episodes."""
    vector = getattr(env_runner.env, "unwrapped", env_runner.env)
    envs = getattr(vector, "envs", None)  # a synchronous vector env's sub-envs
    if envs is None:
        return
    for i in env_indices:
        signal = getattr(envs[i].unwrapped, "signal_graceful_shutdown", None)
        if callable(signal):
            signal()


def drain_runner(
    env_runner: Any, *, max_steps: int, timeout_s: float, acked: dict[str, int] | None = None
) -> RunnerReport:
    """Run on an env runner: finish its episodes in flight (see the module's docstring)."""
    recorder = recorder_of(env_runner)
    if recorder is None:
        return empty_report(int(env_runner.worker_index or 0))
    recorder.drain_max_steps = max_steps
    deadline = time.monotonic() + timeout_s
    try:
        if max_steps > 0:
            wind_down(env_runner, sorted(recorder.live))
            while recorder.live and time.monotonic() < deadline:
                env_runner.sample(num_timesteps=DRAIN_CHUNK * max(env_runner.num_envs, 1))
    except Exception:
        recorder.fail_in_flight()  # an env failed: its episodes cannot be finished
    recorder.truncate_in_flight()
    return recorder.report((acked or {}).get(recorder.incarnation, 0))
