"""`rltrack` in an 80-column terminal: tables keep each run's id prefix, whole status and name
(cut in the middle, both ends showing), dropping less important columns whole instead of
squeezing every one to an ellipsis; help texts flow as paragraphs, wrapped to the terminal."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import re
import subprocess

import pytest
from rich.cells import cell_len

from rltrack.tracking.store import open_store
from rltrack.training.events import MetricsLogged
from tests.api.conftest import T0, run_events
from tests.conftest import Cli

LONG = "LunarLanderContinuous-v3__maskable_ppo__lr0.0003__gamma0.99__20261206-020133"
# id, name, status, env
RUNS = [
    ("3f2a9c1e5b7d4f60a1b2c3d4e5f60718", "CartPole-v1__ppo__1__20261206-020133", "completed",
     "CartPole-v1"),
    ("8d41e07b2c9a4e3f9b8a7c6d5e4f3a21", LONG, "failed", "LunarLanderContinuous-v3"),
    ("c07e5d3a1f2b4c6d8e9f0a1b2c3d4e5f", "short", "stopped", "CartPole-v1"),
    ("e91b6a4c3d2f4e1a0b9c8d7e6f5a4b3c", "Acrobot-v1__dqn__42__20261207-101500", "running",
     "Acrobot-v1"),
]  # fmt: skip
RUN_HEADERS = ["run", "status", "name", "algo", "env", "episodes", "timesteps", "started"]


@pytest.fixture
def filled(cli: Cli) -> Cli:
    """Four runs with long names in the CLI's default database, one with training metrics."""
    store = open_store(f"sqlite:///{cli.home / 'rltrack.db'}")
    for day, (run_id, name, status, env) in enumerate(RUNS):
        # A running run's heartbeat is fresh: an old one would read as lost (failed).
        start = dt.datetime.now(dt.UTC) if status == "running" else T0 + dt.timedelta(days=day)
        events = run_events(run_id, episodes=3, status=status, start=start)
        events[0] = dataclasses.replace(events[0], name=name, env_id=env)
        store.write(events)
    keys = ("rollout/ep_rew_mean", "train/approx_kl", "time/total_timesteps", "train/value_loss")
    store.write(
        [
            MetricsLogged(RUNS[1][0], 2048 * i, {k: 1000.5 * i for k in keys}, episodes=i)
            for i in range(1, 6)
        ]
    )
    store.close()
    return cli


def lines_at(cli: Cli, width: int, *args: str) -> list[str]:
    """The stdout lines of the real `rltrack` in a terminal ``width`` columns wide, each
    checked to fit it."""
    proc = subprocess.run(
        cli.argv(*args), capture_output=True, text=True, timeout=120, cwd=cli.home,
        env={**cli.env, "COLUMNS": str(width)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, "\n".join(too_wide)
    return lines


def cells(line: str) -> list[str]:
    return [c.strip() for c in re.split("[│┃]", line)[1:-1]]


def rows(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """A table's header and body rows, as stripped cells."""
    header = next(cells(line) for line in lines if line.startswith("┃"))
    return header, [cells(line) for line in lines if line.startswith("│")]


def cut_in_middle(cell: str, name: str) -> bool:
    head, sep, tail = cell.partition("…")
    return (
        bool(sep)
        and name.startswith(head)
        and name.endswith(tail)
        and min(len(head), len(tail)) >= 6
    )


def test_runs_at_80_columns_keep_id_status_and_name(filled: Cli) -> None:
    header, body = rows(lines_at(filled, 80, "runs"))
    # Whole columns, the id prefix, the status and the name first: none squeezed to "episo…".
    assert header[:3] == ["run", "status", "name"] and set(header) <= set(RUN_HEADERS)
    assert len(body) == len(RUNS)
    for run_id, name, status, _env in RUNS:
        row = next(r for r in body if r[0] == run_id[:8])
        assert row[1] == status
        assert row[2] == name or cut_in_middle(row[2], name), row
    # The longest name is cut in the middle: its start and its end show.
    assert cut_in_middle(next(r[2] for r in body if r[0] == RUNS[1][0][:8]), LONG)
    assert not any(c.endswith("…") for r in body for c in r)


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_runs_give_way_column_by_column(filled: Cli, width: int) -> None:
    header, body = rows(lines_at(filled, width, "runs"))
    narrower, _ = rows(lines_at(filled, width - 20, "runs"))
    assert header[:3] == ["run", "status", "name"] and set(header) <= set(RUN_HEADERS)
    # A wider terminal shows at least the columns a narrower one does, in the same order.
    assert [h for h in header if h in narrower] == narrower and len(header) >= len(narrower)
    assert sorted((r[0], r[1]) for r in body) == sorted((i[:8], s) for i, _, s, _ in RUNS)


def test_a_wide_terminal_shows_everything_whole(filled: Cli) -> None:
    header, body = rows(lines_at(filled, 200, "runs"))
    assert header == RUN_HEADERS
    for run_id, name, status, env in RUNS:
        assert [run_id[:8], status, name, env] in ([r[0], r[1], r[2], r[4]] for r in body)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r[7]) for r in body)


def test_other_tables_fit_80_columns(filled: Cli) -> None:
    long_id = RUNS[1][0]
    header, body = rows(lines_at(filled, 80, "episodes", long_id[:8]))
    assert header[:4] == ["index", "slot", "status", "reward"] and len(body) == 3
    header, body = rows(lines_at(filled, 80, "metrics", long_id[:8]))
    # Keys in full, as --key takes them.
    assert header[0] == "key" and {r[0] for r in body} >= {"rollout/ep_rew_mean"}
    header, body = rows(lines_at(filled, 80, "metrics", long_id[:8], "--key", "train/approx_kl"))
    assert "timestep" in header and "value" in header and len(body) == 5

    # Four runs side by side need more than 80 columns: as many tables as it takes, each
    # repeating the labels, every run under its id prefix with its name cut in the middle.
    lines = lines_at(filled, 80, "compare", *(r[0][:8] for r in RUNS))
    tables = [i for i, line in enumerate(lines) if line.startswith("┏")]
    assert len(tables) > 1
    shown: dict[str, str] = {}
    for start, end in zip(tables, [*tables[1:], len(lines)], strict=True):
        header, body = rows(lines[start:end])
        names = next(r for r in body if r[0] == "name")
        shown |= dict(zip(header[1:], names[1:], strict=True))
    assert list(shown) == [r[0][:8] for r in RUNS]
    for run_id, name, _status, _env in RUNS:
        assert shown[run_id[:8]] == name or cut_in_middle(shown[run_id[:8]], name)
    assert cut_in_middle(shown[RUNS[1][0][:8]], LONG)


def docstring(command: str) -> str:
    """The first paragraph of a command's docstring, as one line."""
    from rltrack.cli import app

    info = next(c for c in app.registered_commands if c.callback.__name__ == command)
    return " ".join(inspect.getdoc(info.callback).split("\n\n")[0].split())


def assert_flows(lines: list[str], room: int) -> str:
    """``lines`` are one paragraph wrapped at ``room`` cells: each line ends only where the
    next word would not fit (a line break kept from the source ends one short). The text."""
    for line, after in zip(lines, lines[1:], strict=False):
        assert cell_len(line) + 1 + cell_len(after.split()[0]) > room, (line, after)
    return " ".join(lines)


def test_help_lists_each_command_as_a_paragraph(cli: Cli) -> None:
    lines = lines_at(cli, 80, "--help")
    panel = lines[next(i for i, x in enumerate(lines) if "Commands" in x) + 1 :]
    panel = panel[: next(i for i, x in enumerate(panel) if x.startswith("╰"))]
    first = re.match(r"│ \S+ +", panel[0])
    assert first is not None
    offset, room = first.end(), panel[0].rindex("│") - 1 - first.end()
    described: dict[str, list[str]] = {}
    for line in panel:
        name = line[2:offset].strip()
        if name:
            described[name] = []
        described[list(described)[-1]].append(line[offset : line.rindex("│")].rstrip())
    # Commands whose docstrings the source wraps over two or three lines among them.
    assert {"episodes", "metrics", "delete"} <= set(described)
    from rltrack.cli import app

    groups = {g.name for g in app.registered_groups}  # db, import: their help is one line
    assert groups >= {"db", "import"}
    for name, text in described.items():
        if name not in groups:
            assert assert_flows(text, room) == docstring(name), name
    assert "(--limit N for another number)" in " ".join(described["episodes"])


@pytest.mark.parametrize("command", ["episodes", "metrics", "delete", "runs"])
def test_a_commands_help_is_a_paragraph(cli: Cli, command: str) -> None:
    lines = lines_at(cli, 80, command, "--help")
    start = next(i for i, x in enumerate(lines) if x.strip().startswith("Usage:")) + 2
    text = lines[start : next(i for i, x in enumerate(lines) if i > start and not x.strip())]
    # One space of padding either side of the description: 78 cells of text.
    assert assert_flows([x.strip() for x in text], 78) == docstring(command)
