"""The study beside the runs: Optuna's RDB storage on rltrack's own database, the sweep's group,
samplers and pruners made from the spec, and the trials an earlier sweep left running.

Optuna's tables (``studies``, ``trials``, ``trial_params``, ``version_info``, ...) share no
name with rltrack's but one: both libraries migrate with Alembic, which keeps its revision in a
table called ``alembic_version``. That table is rltrack's (``rltrack db upgrade`` reads and
writes it). Opened normally, Optuna would read rltrack's revision as its own and refuse the
database as "no longer compatible" (or, on a database it made, stamp its revision there and
lock rltrack out). So the store is always opened first (it makes or checks rltrack's schema),
and Optuna opens the same URL with its version check skipped: it creates its tables at the
schema of the installed Optuna (pinned in constraints.txt) and leaves ``alembic_version``
alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from rltrack.sweep.curve import objective_value
from rltrack.sweep.spec import ParamSpec, SpecError, SweepSpec
from rltrack.tracking.entities import Group
from rltrack.tracking.store import NotFoundError, Store, UnavailableError

SPEC_ATTR = "rltrack_spec"  # the study's user attribute holding SweepSpec.fingerprint()
SQLITE_BUSY_S = 30  # Optuna's writes wait this long for the trainers' transactions
# A trial left running by a sweep on another machine, with no run yet, is given up after this.
ORPHAN_S = 600


def open_storage(url: str, *, create: bool = True) -> RDBStorage:
    """Optuna's storage on rltrack's database at ``url`` (whose schema the store has made).
    ``create=False`` reads only: no table is made."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_S}
    else:
        kwargs["pool_pre_ping"] = True
    return RDBStorage(
        url, engine_kwargs=kwargs, skip_compatibility_check=True, skip_table_creation=not create
    )


def distribution(p: ParamSpec) -> BaseDistribution:
    if p.type == "categorical":
        return CategoricalDistribution(p.choices)
    assert p.low is not None and p.high is not None
    if p.type == "int":
        return IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    return FloatDistribution(p.low, p.high, log=p.log, step=p.step)


def search_space(spec: SweepSpec) -> dict[str, BaseDistribution]:
    return {p.key: distribution(p) for p in spec.params}


def make_sampler(spec: SweepSpec, trials_so_far: int) -> optuna.samplers.BaseSampler:
    """The spec's sampler. Its seed moves on with the trials the study holds: a sweep run again
    with the same seed would otherwise draw the first trials' parameters again."""
    seed = None if spec.seed is None else spec.seed + trials_so_far
    if spec.sampler == "grid":
        return optuna.samplers.GridSampler(spec.grid, seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    p = spec.pruner
    if p.type == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps
        )
    if p.type == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=p.min_resource or spec.report_every,
            max_resource=spec.total_timesteps,
            reduction_factor=p.reduction_factor,
        )
    return optuna.pruners.NopPruner()


def sweep_group(store: Store, spec: SweepSpec) -> Group:
    """The group of the sweep's runs (made if new); one of another kind is refused."""
    group = store.create_group(spec.name, kind="sweep", metadata=spec.describe())
    if group.kind != "sweep":
        raise SpecError(
            f"sweep.name: {spec.name!r} already names a group of {group.kind} runs; give the "
            "sweep another name"
        )
    return group


def open_study(storage: RDBStorage, spec: SweepSpec) -> optuna.Study:
    """The sweep's study, made or continued. One made by a sweep that measured something else
    (other train settings, search space, objective or direction) is refused."""
    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage, False)}
    trials_so_far = existing[spec.name].n_trials if spec.name in existing else 0
    study = optuna.create_study(
        storage=storage, study_name=spec.name, direction=_direction(spec.direction),
        sampler=make_sampler(spec, trials_so_far), pruner=make_pruner(spec), load_if_exists=True,
    )  # fmt: skip
    recorded = study.user_attrs.get(SPEC_ATTR)
    if recorded is None:
        study.set_user_attr(SPEC_ATTR, spec.fingerprint())
        for key, value in spec.describe().items():
            study.set_user_attr(key, value)
    elif recorded != spec.fingerprint():
        raise SpecError(
            f"sweep.name: the study {spec.name!r} was made by a sweep with other "
            f"{_difference(recorded, spec)}; give this sweep another name, or restore the "
            "settings to continue it"
        )
    return study


def _direction(direction: str) -> optuna.study.StudyDirection:
    return optuna.study.StudyDirection[direction.upper()]


def _difference(recorded: str, spec: SweepSpec) -> str:
    import json

    before, now = json.loads(recorded), json.loads(spec.fingerprint())
    names = {"base": "train settings", "params": "params (search space)"}
    changed = [names.get(k, k) for k in now if before.get(k) != now.get(k)]
    return " and ".join(changed) or "settings"


# -- trials an earlier sweep left running ----------------------------------------------------
def owner_attrs() -> dict[str, Any]:
    """Who runs a trial: this sweep process."""
    return {"sweep_host": socket.gethostname(), "sweep_pid": os.getpid()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def settle_left_running(
    study: optuna.Study, store: Store, spec: SweepSpec, say: Callable[[str], None]
) -> None:
    """Record the trials that a sweep which is gone (a crash, a kill) left RUNNING, from their
    runs: a completed run completes its trial, a run tagged ``pruned`` prunes it; any other
    (stopped, failed, never started) fails it, and its parameters are queued to be tried
    again. Trials whose run still trains, or whose sweep is still alive, are left alone."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        host, pid = attrs.get("sweep_host"), attrs.get("sweep_pid")
        if pid == os.getpid() and host == socket.gethostname():
            continue
        if host == socket.gethostname() and isinstance(pid, int) and _alive(pid):
            continue  # another sweep process runs it
        run = _run_of(store, attrs.get("run_id"))
        if run is None and host != socket.gethostname() and _age_s(trial) < ORPHAN_S:
            continue  # a sweep elsewhere may be starting it
        if run is not None and run.status == "running":
            say(f"trial {trial.number}: its run {run.id[:8]} is still training (pid {run.pid}); "
                "it is recorded when the sweep runs after it ends")  # fmt: skip
            continue
        if run is not None and run.status == "completed":
            value = objective_value(store, run.id, spec.objective)
            if value is not None:
                study.tell(trial.number, value)
                say(f"trial {trial.number}: recorded from its completed run {run.id[:8]}")
                continue
        if run is not None and "pruned" in run.tags:
            study.tell(trial.number, state=TrialState.PRUNED)
            say(f"trial {trial.number}: recorded as pruned from its run {run.id[:8]}")
            continue
        requeue(study, trial.number, trial.params, "left running by a sweep that ended")
        say(f"trial {trial.number}: left running by an earlier sweep; failed, its parameters "
            "are tried again")  # fmt: skip


def requeue(study: optuna.Study, number: int, params: dict[str, Any], reason: str) -> None:
    """Fail trial ``number`` and queue its ``params`` for a new trial, which says why."""
    study.tell(number, state=TrialState.FAIL)
    if params:
        study.enqueue_trial(dict(params), user_attrs={"retry_of": number, "retry_reason": reason})


def _run_of(store: Store, run_id: Any) -> Any:
    if not isinstance(run_id, str):
        return None
    try:
        return store.get_run(run_id)
    except NotFoundError:
        return None
    except UnavailableError:
        raise


def _age_s(trial: FrozenTrial) -> float:
    start = trial.datetime_start
    if start is None:
        return 0.0
    now = dt.datetime.now(start.tzinfo) if start.tzinfo else dt.datetime.now()
    return (now - start).total_seconds()
