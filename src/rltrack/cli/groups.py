"""Groups of runs as one experiment: `group` (the groups, or one group's runs and final scores
with their confidence intervals) and what `compare --group A --group B` prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from rltrack.cli.common import (
    Cell,
    Col,
    DbOpt,
    JsonOpt,
    app,
    err,
    fail,
    fit_table,
    fmt,
    missing_database,
    out,
    print_json,
    run_summary,
)

if TYPE_CHECKING:
    from rltrack.analysis import GroupAnalysis, GroupComparison, Scores
    from rltrack.analysis.stats import Estimate

MAX_GROUPS = 8
COLOURS = {"completed": "green", "running": "cyan", "stopped": "yellow", "failed": "red"}
GROUP_COLUMNS = (
    Col("group"),
    Col("name", floor=20, ratio=3),
    Col("kind"),
    Col("runs"),
    Col("created", drop=1),
)
MEMBER_COLUMNS = (
    Col("run"),
    Col("status"),
    Col("name", floor=16, ratio=3),
    Col("seed"),
    Col("episodes", drop=2),
    Col("last 100 mean"),
    Col("evaluation", drop=1),
)
STATISTICS = (
    ("iqm", "IQM"),
    ("median", "median"),
    ("mean", "mean"),
    ("optimality_gap", "optimality gap"),
)
SeedOpt = Annotated[
    int, typer.Option(min=0, help="The bootstrap's random seed (the same seed, the same CIs).")
]
TargetOpt = Annotated[
    float | None,
    typer.Option(
        help="The target score of the optimality gap (default: the environment's reward "
        "threshold, when Gymnasium's registry has one)."
    ),
]


def interval(e: Estimate | None, spec: str | None = None) -> str:
    if e is None or e.low is None or e.high is None:
        return "-"
    if spec is not None:
        return f"[{e.low:{spec}}, {e.high:{spec}}]"
    return f"[{fmt(e.low)}, {fmt(e.high)}]"


def open_groups_store(db: str | None, refs: Sequence[str]) -> Any:
    """The store of a command that reads groups: a SQLite file that does not exist is an error
    naming it (no empty database is made)."""
    from rltrack import settings
    from rltrack.tracking.store import StoreError, open_store

    missing = missing_database(db)
    if missing is not None:
        what = f"no group {', '.join(refs)}" if refs else "no groups"
        fail(
            f"{what}: there is no database at {missing}; point --db or RLTRACK_DATABASE_URL at one"
        )
    try:
        return open_store(settings.database_url(db), create=True)
    except StoreError as exc:
        fail(str(exc))


def _scores_rows(scores: Scores | None, label: str) -> list[list[Cell]]:
    if scores is None:
        return []
    rows: list[list[Cell]] = []
    for key, name in STATISTICS:
        e = getattr(scores, key)
        if e is not None:
            rows.append([label if not rows else "", name, fmt(e.value), interval(e)])
    return rows


def print_notes(notes: Sequence[str]) -> None:
    for note in dict.fromkeys(notes):
        err.print(note, highlight=False)


@app.command()
def group(
    name: Annotated[
        str | None, typer.Argument(help="A group (id, id prefix or name); none: every group.")
    ] = None,
    target: TargetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """The groups of runs (seeds of one setting, a sweep's trials, runs joined with --group);
    with a NAME, that group's runs and its final scores: the IQM, median, mean and optimality
    gap of each run's mean reward over its last 100 episodes (and of its latest evaluation,
    where runs were evaluated), each with a 95 % bootstrap confidence interval."""
    from rltrack.analysis import analyze_group
    from rltrack.tracking.store import NotFoundError

    if name is None:
        if missing_database(db) is not None:
            if json_:
                print_json([])
            else:
                err.print("no groups yet: there is no database", highlight=False)
            return
        groups = open_groups_store(db, []).list_groups()
        if json_:
            print_json(groups)
            return
        if not groups:
            err.print("no groups yet: `rltrack train --group NAME` makes one", highlight=False)
            return
        out.print(
            fit_table(
                GROUP_COLUMNS,
                (
                    (g.id[:8], g.name, g.kind, str(g.runs), g.created_at.strftime("%Y-%m-%d %H:%M"))
                    for g in groups
                ),
            )
        )
        return
    store = open_groups_store(db, [name])
    try:
        a = analyze_group(store, name, target=target, seed=seed, curve=False)
    except NotFoundError as exc:
        fail(str(exc))
    if json_:
        print_json(analysis_json(a))
        return
    n = len(a.runs)
    out.print(f"group {a.group.name} ({a.group.id[:8]}, {a.group.kind}): {n} run{'s' * (n != 1)}")
    out.print(
        fit_table(
            MEMBER_COLUMNS,
            (
                (
                    m.run.id[:8], Text(m.run.status, style=COLOURS.get(m.run.status, "white")),
                    m.run.name, "-" if m.run.seed is None else str(m.run.seed),
                    str(m.run.episodes), fmt(m.last_100_mean), fmt(m.latest_evaluation),
                )
                for m in a.runs
            ),
        )
    )  # fmt: skip
    rows = _scores_rows(a.final, "last 100 episodes") + _scores_rows(a.evaluation, "evaluation")
    if rows:
        out.print("final scores: " + final_scores_title(a))
        out.print(fit_table((Col("scores"), Col("statistic"), Col("value"), Col("95% CI")), rows))
    print_notes(a.notes)


def analysis_json(a: GroupAnalysis) -> dict[str, Any]:
    return {
        "group": a.group,
        "runs": [
            {
                **run_summary(m.run), "seed": m.run.seed, "last_100_mean": m.last_100_mean,
                "last_100_episodes": m.last_100_episodes,
                "latest_evaluation": m.latest_evaluation,
            }
            for m in a.runs
        ],
        "skipped": a.skipped, "final_scores": a.final, "evaluation_scores": a.evaluation,
        "target": a.target,
        "bootstrap": {"method": "percentile", "confidence": a.confidence, "resamples": a.reps,
                      "seed": a.seed},
        "notes": a.notes,
    }  # fmt: skip


def final_scores_title(a: GroupAnalysis) -> str:
    """What the score tables hold, in lines of at most 80 columns."""
    lines = [f"95% percentile bootstrap CIs ({a.reps} resamples of the runs, seed {a.seed})"]
    if a.target.value is not None:
        source = "given" if a.target.source == "given" else f"{a.runs[0].run.env_id}'s threshold"
        lines.append(f"optimality gap: mean shortfall below {fmt(a.target.value)} ({source})")
    return "\n".join(lines)


def compare_groups(refs: Sequence[str], *, target: float | None, seed: int, json_: bool,
                   db: str | None) -> None:  # fmt: skip
    """`compare --group A --group B`: each group's final scores and P(X > Y) for each pair."""
    from rltrack.analysis import compare_groups
    from rltrack.tracking.store import NotFoundError

    names = list(dict.fromkeys(refs))
    if not 2 <= len(names) <= MAX_GROUPS:
        fail(f"compare --group takes 2 to {MAX_GROUPS} distinct groups, got {len(names)}")
    store = open_groups_store(db, names)
    try:
        c = compare_groups(store, names, target=target, seed=seed, curve=False)
    except NotFoundError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))
    if json_:
        print_json(
            {
                "groups": [analysis_json(a) for a in c.groups],
                "profiles": [
                    {
                        "group_id": p.group_id,
                        "points": [{"tau": t, "fraction": f} for t, f in p.points],
                    }
                    for p in c.profiles
                ],
                "improvements": [
                    {"x": i.x_group, "y": i.y_group, "probability": i.probability}
                    for i in c.improvements
                ],
                "notes": c.notes,
            }
        )
        return
    print_comparison(c)


def print_comparison(c: GroupComparison) -> None:
    label = {a.group.id: a.group.name for a in c.groups}
    rows: list[list[Cell] | None] = []
    for a in c.groups:
        if rows:
            rows.append(None)
        scores = _scores_rows(a.final, a.group.name)
        runs = str(len(a.final.scores)) if a.final else "0"
        rows += [[r[0], runs if r[0] else "", *r[1:]] for r in scores] or [
            [a.group.name, "0", "-", "-", "-"]
        ]
    out.print("final scores: each run's mean reward over its last 100 episodes")
    out.print(final_scores_title(c.groups[0]))
    cols = (Col("group", floor=16), Col("runs"), Col("statistic"), Col("value"), Col("95% CI"))
    out.print(fit_table(cols, rows))
    if c.improvements:
        out.print("probability of improvement: P(X > Y), a run of X scoring above one of Y")
        out.print(
            fit_table(
                (Col("X > Y", floor=24), Col("P"), Col("95% CI")),
                (
                    [f"{label[i.x_group]} > {label[i.y_group]}",
                     f"{i.probability.value:.3f}", interval(i.probability, ".3f")]
                    for i in c.improvements
                ),
            )
        )  # fmt: skip
    print_notes([f"{a.group.name}: {n}" for a in c.groups for n in a.notes] + c.notes)
