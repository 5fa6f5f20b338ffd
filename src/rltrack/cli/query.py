"""Reading runs back: `runs`, `show`, `episodes`, `metrics`, `compare` and `check`."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from rltrack.cli import common
from rltrack.cli.common import (
    PER_COLUMN,
    PER_TABLE,
    STATUSES,
    Cell,
    Col,
    DbOpt,
    JsonOpt,
    MiddleCut,
    app,
    checkpoint_label,
    err,
    fail,
    find_run,
    fit_table,
    floor_widths,
    fmt,
    lost_records_line,
    missing_database,
    natural_widths,
    open_run,
    open_store,
    out,
    print_json,
    print_json_stream,
    run_summary,
)
from rltrack.exporters import episode_batches, episode_json
from rltrack.tracking.entities import Episode, Metric, to_jsonable

# The id prefix, the whole status and the name come first; on a narrow terminal the name is cut
# in the middle down to 30 cells, and then the start time, the timesteps, the episodes, the
# algorithm and the env give way, in that order (at 80 columns, as a rule: run, status, name,
# algo, env).
RUN_COLUMNS = (
    Col("run"),
    Col("status"),
    Col("name", floor=30, ratio=3),
    Col("algo", drop=2, floor=8),
    Col("env", drop=1, floor=11),
    Col("episodes", drop=3),
    Col("timesteps", drop=4),
    Col("started", drop=5),
)


@app.command()
def runs(
    status: Annotated[str | None, typer.Option(help=f"One of {', '.join(STATUSES)}.")] = None,
    agent_id: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[str | None, typer.Option(help="Runs with this tag.")] = None,
    algo: Annotated[str | None, typer.Option(help="Runs of this algorithm.")] = None,
    env: Annotated[str | None, typer.Option(help="Runs on this env id.")] = None,
    search: Annotated[
        str | None, typer.Option(help="Runs whose name contains this text (any case).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """List runs, newest first."""
    from rltrack.tracking.store import RunFilter

    if status is not None and status not in STATUSES:
        fail(f"--status {status!r}: choose one of {', '.join(STATUSES)}")
    missing = missing_database(db)
    if missing is not None:
        # Nothing trained there yet: no runs, and no empty database created to say so.
        if json_:
            print_json([])
        else:
            err.print(f"no runs recorded yet: there is no database at {missing}", highlight=False)
        return
    store = open_store(db, runs=[])
    flt = RunFilter(status=status, agent_id=agent_id, tag=tag, algorithm=algo, env_id=env, q=search)
    found = store.list_runs(dataclasses.replace(flt, limit=limit))
    if json_:
        print_json([run_summary(r) for r in found])
        return
    colours = {"completed": "green", "running": "cyan", "stopped": "yellow", "failed": "red"}
    table = fit_table(
        RUN_COLUMNS,
        (
            (
                r.id[:8], Text(r.status, style=colours.get(r.status, "white")), r.name,
                r.algorithm, r.env_id, str(r.episodes), str(r.timesteps),
                r.start_time.strftime("%Y-%m-%d %H:%M:%S"),
            )
            for r in found
        ),
    )  # fmt: skip
    out.print(table)
    if len(found) == limit:
        total = store.count_runs(flt)
        if total > limit:
            err.print(f"the newest {limit} of {total:,} runs; --limit N for more", highlight=False)


@app.command()
def show(run: str, json_: JsonOpt = False, db: DbOpt = None) -> None:
    """One run: its configuration, progress and checkpoints."""
    store, r = open_run(db, run)
    counts = store.count_episodes(r.id)
    checkpoints = store.list_checkpoints(r.id)
    data = {
        **run_summary(r),
        "notes": r.notes,
        "config": r.config,
        "metadata": r.metadata,
        "episodes": sum(n for s, n in counts.items() if s != "started"),
        "episodes_by_status": counts,
        "checkpoints": [
            {
                "episode": c.episode_index,
                "timestep": c.timestep,
                "path": c.path,
                "sha256": c.sha256,
                "size": c.size,
                "kind": c.kind,
            }
            for c in checkpoints
        ],  # fmt: skip
    }
    data["evaluations"] = [
        {
            "checkpoint_path": e.checkpoint_path,
            "opponent": e.opponent,
            "episodes": e.episodes,
            "mean_reward": e.mean_reward,
            "std_reward": e.std_reward,
            "win_rate": e.win_rate,
            "mean_length": e.mean_length,
            "metrics": e.metrics,
        }  # fmt: skip
        for e in store.list_evaluations(r.id)
    ]
    if json_:
        print_json(data)
        return
    out.print(f"[bold]{r.name}[/]  ({r.id})", highlight=False)
    for key in ("status", "algorithm", "env_id", "backend", "agent_id", "start_time",
                "end_time", "timesteps", "episodes", "parent_run_id", "error",
                "notes"):  # fmt: skip
        value = data[key]
        if value is not None:
            out.print(f"  {key:<11} {to_jsonable(value)}", highlight=False)
    if r.tags:
        out.print(f"  {'tags':<11} {', '.join(r.tags)}", highlight=False)
    if r.records_lost:
        out.print(f"  [red]{'lost':<11} {lost_records_line(r)}[/]", highlight=False)
    out.print(f"  {'by status':<11} {counts}", highlight=False)
    out.print("  hyperparams " + json.dumps(r.config.get("hyperparams", {})), highlight=False)
    for c in data["checkpoints"]:
        out.print(f"  checkpoint  {c['kind']:<8} step {c['timestep']:>9}  {c['path']}")
    for e in data["evaluations"]:
        played = f" {checkpoint_label(e['checkpoint_path'])}" if e["checkpoint_path"] else ""
        out.print(
            f"  evaluation  {(e['opponent'] or '-') + played:<24} reward {e['mean_reward']:.4g} "
            f"± {e['std_reward']:.3g} over {e['episodes']} episodes",
            highlight=False,
        )


@app.command()
def episodes(
    run: str,
    status: Annotated[
        str | None, typer.Option(help="started, completed, truncated or error.")
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            help="index, total_reward or steps; a leading - sorts descending "
            "(-index: newest first, -total_reward: best first)."
        ),
    ] = "index",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N episodes in that order.")
    ] = None,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """The episodes of a run: a table of the first 1,000 in --sort order (--limit N for
    another number), or all of them with --json."""
    from rltrack.tracking.store import EPISODE_SORTS, EpisodeFilter

    if status is not None and status not in ("started", "completed", "truncated", "error"):
        fail(f"--status {status!r}: choose one of started, completed, truncated, error")
    if sort.removeprefix("-") not in EPISODE_SORTS:
        choices = ", ".join(EPISODE_SORTS)
        fail(f"--sort {sort!r}: choose one of {choices}, each with a leading - for descending")
    store, r = open_run(db, run)
    # A table stops at common.TABLE_ROWS unless --limit says otherwise (a long run has a million
    # episodes, which no terminal wants); --json gives them all.
    cap = limit if limit is not None or json_ else common.TABLE_ROWS
    if sort == "index" and cap is None and status is None:
        # Every episode as JSON, page by page: a run of a million would otherwise be held
        # whole, twice (entities, then dicts), before the first byte is written.
        print_json_stream(episode_json(e) for e in _all_episodes(store, r.id))
        return
    if sort == "index" and cap is None:
        rows = store.list_episodes(r.id, status=status)
    else:
        page = store.episode_page(
            r.id, flt=EpisodeFilter(status=status), sort=sort, limit=cap or 2**31 - 1
        )
        rows = page.items
        if not json_ and len(rows) < page.total:
            more = "" if limit is not None else "; --limit N shows more, --json all of them"
            err.print(f"{len(rows):,} of {page.total:,} episodes, by {sort}{more}", highlight=False)
    if json_:
        print_json([episode_json(e) for e in rows])
        return
    table = fit_table(
        EPISODE_COLUMNS,
        (
            (
                str(e.index), str(e.env_slot), e.status, fmt(e.total_reward), str(e.steps),
                str(e.end_timestep), fmt(e.win), fmt(e.epsilon),
            )
            for e in rows
        ),
    )  # fmt: skip
    out.print(table)


# Narrow terminals lose the env slot first, then epsilon, the end step, win and steps.
EPISODE_COLUMNS = (
    Col("index"),
    Col("slot", drop=5),
    Col("status"),
    Col("reward"),
    Col("steps", drop=1),
    Col("end step", drop=3),
    Col("win", drop=2),
    Col("epsilon", drop=4),
)


def _all_episodes(store: Any, run_id: str, page: int = 5000) -> Iterator[Episode]:
    """Every episode of a run by index, read a keyset page at a time."""
    for batch in episode_batches(store, run_id, page):
        yield from batch


@app.command()
def metrics(
    run: str,
    key: Annotated[
        str | None, typer.Option(help="Only this key, e.g. rollout/ep_rew_mean.")
    ] = None,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Training metrics of a run (losses, rewards, fps, ...): the last value of each, the
    points of one with --key (a table of the first 1,000), or every point with --json."""
    store, r = open_run(db, run)
    rows = store.list_metrics(r.id, key=key)
    if key is not None and not rows:
        keys = store.metric_keys(r.id)
        err.print(
            f"run {r.id[:8]} has no metric {key!r}"
            + (f"; its metrics: {', '.join(keys)}" if keys else " (it has logged none yet)"),
            highlight=False,
        )
    if json_:
        print_json(
            [
                {
                    "key": m.key,
                    "timestep": m.timestep,
                    "value": m.value,
                    "wall_time": m.wall_time,
                    "episodes": m.episodes,
                }
                for m in rows
            ]  # fmt: skip
        )
        return
    if key is None:
        out.print(_metrics_by_key(rows))
        if rows:
            err.print(
                "one row per metric, with its last value; --key KEY for its points, --json for "
                "every point",
                highlight=False,
            )
        return
    # The key is the same on every row (the one asked for): it gives way first.
    cols = (Col("key", drop=2, floor=20), Col("timestep"), Col("value"), Col("episodes", drop=1))
    cells = ((m.key, str(m.timestep), fmt(m.value), str(m.episodes)) for m in rows)
    out.print(fit_table(cols, itertools.islice(cells, common.TABLE_ROWS)))
    if len(rows) > common.TABLE_ROWS:
        err.print(
            f"the first {common.TABLE_ROWS:,} of {len(rows):,} points of {key}; "
            "--json for all of them",
            highlight=False,
        )


def _metrics_by_key(rows: Sequence[Metric]) -> Table:
    """A run's metrics at a glance: per key, its number of points, its last value (and the
    timestep of it), and its smallest and largest finite values."""
    by_key: dict[str, list[Metric]] = {}
    for m in rows:  # ordered by key, then timestep
        by_key.setdefault(m.key, []).append(m)
    # Keys in full, as --key takes them, unless one is longer than 40 cells and the terminal
    # too narrow; min and max give way first, then the points and the step of the last value.
    cols = (
        Col("key", floor=40), Col("points", drop=2), Col("last step", drop=1), Col("last value"),
        Col("min", drop=3), Col("max", drop=3),
    )  # fmt: skip
    table_rows = []
    for k, points in by_key.items():
        finite = [m.value for m in points if math.isfinite(m.value)]
        last = points[-1]
        table_rows.append(
            (
                k, f"{len(points):,}", str(last.timestep), fmt(last.value),
                fmt(min(finite)) if finite else "-", fmt(max(finite)) if finite else "-",
            )
        )  # fmt: skip
    return fit_table(cols, table_rows)


@app.command()
def compare(
    runs: Annotated[
        list[str] | None, typer.Argument(help="Two to eight runs (id, id prefix or name).")
    ] = None,
    group_refs: Annotated[
        list[str] | None,
        typer.Option(
            "--group", help="Compare groups of runs instead (repeat: --group A --group B)."
        ),
    ] = None,
    target: Annotated[
        float | None,
        typer.Option(
            help="With --group: the target score of the optimality gap (default: the "
            "environment's reward threshold, when Gymnasium's registry has one)."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, help="With --group: the bootstrap's random seed.")
    ] = 0,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Runs side by side: their results, and the settings that differ between them. With
    --group A --group B: groups of runs (seeds), their final scores (IQM, median, mean,
    optimality gap) with 95 % bootstrap confidence intervals, and the probability that a run
    of one group scores above a run of the other, P(A > B), with its interval."""
    from rltrack.config import config_differences

    if group_refs:
        from rltrack.cli.groups import compare_groups

        if runs:
            fail("compare takes runs or --group groups, not both: drop the runs or the --group")
        compare_groups(group_refs, target=target, seed=seed, json_=json_, db=db)
        return
    if target is not None or seed != 0:
        fail("--target and --seed are options of compare --group")
    refs = list(dict.fromkeys(runs or []))
    if not 2 <= len(refs) <= 8:
        fail(f"compare takes 2 to 8 distinct runs, got {len(refs)}")
    store = open_store(db, runs=refs)
    found = list({r.id: r for r in (find_run(store, ref) for ref in refs)}.values())
    if len(found) < 2:
        fail(f"{' and '.join(refs)} are the same run; name at least two")
    stats = store.run_stats([r.id for r in found])
    rows: list[tuple[str, list[Any]]] = [
        ("name", [r.name for r in found]),
        ("algorithm", [r.algorithm for r in found]),
        ("env", [r.env_id for r in found]),
        ("seed", [r.seed for r in found]),
        ("status", [r.status for r in found]),
        ("timesteps", [r.timesteps for r in found]),
        ("episodes", [stats[r.id].finished for r in found]),
        ("mean reward", [stats[r.id].mean_reward for r in found]),
        ("last 100 mean", [_last_mean_reward(store, r.id) for r in found]),
        ("best reward", [stats[r.id].max_reward for r in found]),
        ("mean length", [stats[r.id].mean_steps for r in found]),
        ("win rate (last 100)", [stats[r.id].last_win_rate for r in found]),
        ("latest evaluation", [_latest_evaluation(store, r.id) for r in found]),
    ]
    rows = [(k, v) for k, v in rows if any(x is not None for x in v)]
    ignored = ("run_name", "tags", "seed")  # the seed has its own row above
    differing = [
        (k, v) for k, v in config_differences([r.config for r in found]) if k not in ignored
    ]
    if json_:
        print_json(
            {
                "runs": [r.id for r in found],
                "results": {k: dict(zip([r.id for r in found], v, strict=True)) for k, v in rows},
                "differing_params": [
                    {"key": k, "values": dict(zip([r.id for r in found], v, strict=True))}
                    for k, v in differing
                ],
            }
        )
        return
    label = Col("", floor=20, ratio=8)
    columns = [Col(r.id[:8], floor=16, wrap=True) for r in found]
    table_rows: list[list[Cell] | None] = [
        [key, *(MiddleCut(v) if key == "name" else _cell(v) for v in values)]
        for key, values in rows
    ]
    if differing:
        table_rows.append(None)
        table_rows += [[key, *map(_cell, values)] for key, values in differing]
    for group in _side_by_side(label, columns, table_rows, out.width):
        picked = (None if r is None else [r[0], *(r[1 + i] for i in group)] for r in table_rows)
        out.print(fit_table([label, *(columns[i] for i in group)], picked))
    if not differing:
        err.print("their settings are the same (names, tags and seeds aside)", highlight=False)


def _side_by_side(
    label: Col, columns: Sequence[Col], rows: Sequence[Sequence[Cell] | None], width: int
) -> list[list[int]]:
    """The runs of a comparison in groups that fit ``width`` side by side, each group a table
    of its own that repeats the labels: eight runs on 80 columns keep their ids and names."""
    floor = floor_widths([label, *columns], natural_widths([label, *columns], rows))
    room = width - PER_TABLE - PER_COLUMN - floor[0]
    groups: list[list[int]] = [[]]
    used = 0
    for i, cells in enumerate(floor[1:]):
        if groups[-1] and used + PER_COLUMN + cells > room:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += PER_COLUMN + cells
    return groups


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _last_mean_reward(store: Any, run_id: str, n: int = 100) -> float | None:
    """Mean reward of the run's newest ``n`` episodes that have one (those in flight have
    none yet), read newest first a keyset page at a time."""
    rewards: list[float] = []
    after = None
    while len(rewards) < n:
        page = store.episode_page(run_id, sort="-index", after=after, limit=n)
        rewards += [e.total_reward for e in page.items if e.total_reward is not None]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    rewards = rewards[:n]
    return sum(rewards) / len(rewards) if rewards else None


def _latest_evaluation(store: Any, run_id: str) -> float | None:
    """Mean reward of the run's newest evaluation of its own policy."""
    agent = [e for e in store.list_evaluations(run_id) if e.opponent in (None, "agent")]
    return max(agent, key=lambda e: e.created_at).mean_reward if agent else None


@app.command()
def check(
    run: str,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Mark a run whose heartbeat was lost as failed and close its open episodes.",
        ),
    ] = False,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Is every episode of a run final, with its metrics? Exit 0 only when it is."""
    store, r = open_run(db, run)
    repaired = 0
    if repair:
        if r.status == "running":
            fail(
                f"run {r.id} is still alive (heartbeat at {r.heartbeat_at:%H:%M:%S} UTC); "
                "stop it first, or wait until its heartbeat is stale (RLTRACK_STALE_S)"
            )
        repaired = store.repair_run(r.id, r.error or "heartbeat lost")
        r = store.get_run(r.id)
    health = store.episode_health(r.id)
    report = {
        "run_id": r.id, "name": r.name, "status": r.status, "error": r.error,
        "ok": health.ok, "episodes": sum(health.counts.values()), "counts": health.counts,
        "started": health.started, "missing_metrics": health.missing_metrics,
        "missing_trades": health.missing_trades, "gaps": health.gaps, "repaired": repaired,
        "records_lost": r.records_lost,
    }  # fmt: skip
    # A run that lost records is not whole, however final its episodes look.
    ok = health.ok and not r.records_lost
    report["ok"] = ok
    if json_:
        print_json(report)
    else:
        out.print(f"[bold]{r.name}[/] ({r.id})  status {r.status}", highlight=False)
        if r.error:
            out.print(f"  error           {r.error}", highlight=False)
        by_status = ", ".join(f"{k} {v}" for k, v in sorted(health.counts.items())) or "none"
        out.print(f"  episodes        {report['episodes']} ({by_status})", highlight=False)
        for label, items in (
            ("left started", health.started),
            ("missing metrics", health.missing_metrics),
            ("missing trades", health.missing_trades),
            ("index gaps", [f"{a}..{b}" for a, b in health.gaps]),
        ):
            shown = ", ".join(map(str, items[:20])) + (" …" if len(items) > 20 else "")
            out.print(f"  {label:<15} {shown or 'none'}", highlight=False)
        out.print(f"  records lost    {lost_records_line(r) or 'none'}", highlight=False)
        if repaired:
            out.print(f"  repaired        {repaired} episodes closed as error", highlight=False)
        out.print("[green]OK[/]: every episode is final" if ok else "[red]NOT OK[/]")
    raise typer.Exit(0 if ok else 1)
