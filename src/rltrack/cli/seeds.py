"""`rltrack train --seeds 0-4 [--parallel K] [--group NAME]`: one run per seed, as one group.

The settings are resolved once, here, and written to the group's folder
(``$RLTRACK_HOME/groups/<group id>/config.yaml``); each seed is then the real `rltrack train`
with that file, ``--seed S`` and ``--group NAME`` (see :mod:`rltrack.training.launch`), so
every run is a normal run, recorded as any other.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, NoReturn

import typer
import yaml
from rich.markup import escape

from rltrack import settings
from rltrack.cli.common import Col, err, fail, fit_table, out
from rltrack.config import TrainConfig
from rltrack.jsonable import jsonable
from rltrack.training.launch import Child, run_children, train_argv

MAX_SEEDS = 1000
_PART = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


def parse_seeds(spec: str) -> list[int]:
    """``0-4``, ``0,3,7`` or ``0-2,9``: the seeds in the order given, each once."""
    seeds: list[int] = []
    for part in spec.split(","):
        m = _PART.fullmatch(part)
        if m is None:
            fail(f"--seeds {spec!r}: write seeds as 0-4, 0,3,7 or 0-2,9")
        lo, hi = int(m.group(1)), int(m.group(2) if m.group(2) is not None else m.group(1))
        if hi < lo:
            fail(f"--seeds {spec!r}: the range {lo}-{hi} runs backwards; write {hi}-{lo}")
        if hi - lo + len(seeds) >= MAX_SEEDS:
            fail(f"--seeds {spec!r}: at most {MAX_SEEDS} seeds in one group")
        seeds.extend(range(lo, hi + 1))
    return list(dict.fromkeys(seeds))


def default_group_name(cfg: TrainConfig) -> str:
    env = cfg.env.replace("/", "-").replace(":", "-")
    return f"{env}__{cfg.algo}__seeds__{time.strftime('%Y%m%d-%H%M%S')}"


def train_seeds(
    cfg: TrainConfig, seeds: list[int], parallel: int, store: Any, tensorboard: Path | None
) -> NoReturn:
    name = cfg.group or default_group_name(cfg)
    try:
        group = store.create_group(
            name, kind="seeds", metadata={"seeds": seeds, "algo": cfg.algo, "env": cfg.env}
        )
    except ValueError as exc:
        fail(f"--group: {exc}")
    folder = settings.home() / "groups" / group.id
    folder.mkdir(parents=True, exist_ok=True)
    config = jsonable(cfg.model_dump(exclude={"seed", "group", "run_name"}))
    if parallel > 1:
        config["progress"] = False  # K progress bars would fight over one terminal
    config_path = folder / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    children = []
    for seed in seeds:
        args = ["--config", str(config_path), "--seed", str(seed), "--group", name]
        if cfg.run_name:
            args += ["--run-name", f"{cfg.run_name}-seed{seed}"]
        if store.url:
            args += ["--db", store.url]
        if tensorboard is not None:
            args += ["--tensorboard", str(tensorboard / f"seed{seed}")]
        children.append(Child(f"seed {seed}", train_argv(args)))
    out.print(
        f"group {name} ({group.id}): {len(seeds)} runs, seeds {', '.join(map(str, seeds))}, "
        f"{parallel} at a time",
        highlight=False,
    )

    def relay(child: Child, line: str, is_err: bool) -> None:
        if parallel == 1 and not line.startswith("run_id: "):
            (err if is_err else out).print(escape(line), highlight=False)
        elif is_err or line.startswith(("run_id: ", "completed", "stopped", "failed")):
            (err if is_err else out).print(f"[dim]\\[{child.label}][/] {escape(line)}")

    received = run_children(children, parallel, relay)
    _summary(store, name, children)
    codes = [c.code for c in children if c.code not in (None, 0)]
    if received is not None:
        err.print(
            f"[yellow]interrupted[/]: {sum(c.code is None for c in children)} seeds not started; "
            f"run them with --seeds and --group {name}",
            highlight=False,
        )
        raise typer.Exit(128 + received)
    raise typer.Exit(codes[0] if codes else 0)


def _summary(store: Any, name: str, children: list[Child]) -> None:
    ids = [c.run_id for c in children if c.run_id]
    last = store.last_rewards(ids) if ids else {}
    rows = []
    for child in children:
        run = store.get_run(child.run_id) if child.run_id else None
        rewards = last.get(child.run_id or "", [])
        rows.append(
            [
                child.label.removeprefix("seed "),
                child.run_id[:8] if child.run_id else "-",
                run.status if run else ("not started" if child.code is None else "failed"),
                str(run.episodes) if run else "-",
                f"{sum(rewards) / len(rewards):.2f}" if rewards else "-",
            ]
        )
    cols = [Col("seed"), Col("run"), Col("status"), Col("episodes"), Col("last-100 mean")]
    table = fit_table(cols, rows)
    out.print(table)
    out.print(f"look at it: rltrack group {name}", highlight=False)
