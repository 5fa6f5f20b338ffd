"""The trading env through the real `rltrack` command: every episode's metrics, its trades and
sampled traces in the database, held-out evaluations, and bad ranges or data refused."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, Result
from tests.training.test_evaluate import write_bars

TRADING = "rltrack/Trading-v0"
METRICS = (
    "pnl", "pnl_pct", "sharpe_ratio", "sortino_ratio", "max_drawdown", "calmar_ratio",
    "annualized_return", "win_rate", "trades_count", "exposure", "benchmark_return",
    "initial_portfolio_value", "final_portfolio_value",
)  # fmt: skip
TRAIN, HELD_OUT = "2020-01-01:2020-12-31", "2021-01-01:"


def train(cli: Cli, *args: str) -> Result:
    result = cli(
        "train", "--algo", "ppo", "--env", TRADING, "--mode", "smoke", "--no-progress", *args
    )
    assert result.code == 0, result.stderr
    return result


def query(cli: Cli, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{cli.home / 'rltrack.db'}?mode=ro", uri=True)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def check_metrics(episodes: list[dict[str, Any]]) -> None:
    for e in episodes:
        assert e["status"] in ("completed", "truncated"), e
        m = e["metrics"]
        for key in METRICS:
            if key == "win_rate" and m["trades_count"] == 0:
                assert m[key] is None
            else:
                assert m.get(key) is not None, (e["index"], key)
        # The env counted the same steps as the tracker, drained ones included.
        assert m["total_steps"] == e["steps"]


def test_smoke_run_records_metrics_trades_and_sampled_traces(cli: Cli) -> None:
    run_id = train(
        cli, "--total-timesteps", "2048", "--set", "env_kwargs.episode_length=200",
        "--trace-every", "3",
    ).run_id  # fmt: skip
    episodes = cli("episodes", run_id, "--json").json()
    assert len(episodes) >= 9
    assert [e["index"] for e in episodes] == list(range(len(episodes)))
    check_metrics(episodes)

    # Each episode's trades are in the trades table, linked to it, adding up to its pnl.
    trades = {
        idx: (n, pnl)
        for idx, n, pnl in query(
            cli,
            "SELECT e.idx, count(t.id), coalesce(sum(t.pnl), 0) FROM episodes e "
            "LEFT JOIN trades t ON t.episode_id = e.id WHERE e.run_id = ? GROUP BY e.idx",
            run_id,
        )
    }
    assert sum(n for n, _ in trades.values()) > 0
    for e in episodes:
        n, pnl = trades[e["index"]]
        assert n == e["metrics"]["trades_count"], e["index"]
        assert pnl == pytest.approx(e["metrics"]["pnl"], abs=1e-6 * 100_000)

    # Per-step traces of every 3rd episode only, one row per step, ending at the final value.
    steps = Counter(
        dict(
            query(
                cli,
                "SELECT e.idx, count(*) FROM steps s JOIN episodes e ON s.episode_id = e.id "
                "WHERE e.run_id = ? GROUP BY e.idx",
                run_id,
            )
        )
    )
    assert set(steps) == {e["index"] for e in episodes if e["index"] % 3 == 0}
    for e in episodes:
        if e["index"] % 3 == 0:
            assert steps[e["index"]] == e["steps"]
    (last_value,) = query(
        cli,
        "SELECT s.portfolio_value FROM steps s JOIN episodes e ON s.episode_id = e.id "
        "WHERE e.run_id = ? AND e.idx = 0 ORDER BY s.step DESC LIMIT 1",
        run_id,
    )[0]
    assert last_value == pytest.approx(episodes[0]["metrics"]["final_portfolio_value"])

    check = cli("check", run_id, "--json")
    assert check.code == 0, check.stdout
    assert check.json()["missing_trades"] == []


def test_own_data_with_train_and_eval_ranges(cli: Cli, tmp_path: Path) -> None:
    bars = write_bars(tmp_path / "bars.csv")
    run_id = train(
        cli, "--data", str(bars), "--train-range", TRAIN, "--eval-range", HELD_OUT,
        "--total-timesteps", "1024", "--set", "env_kwargs.window_size=10",
        "--set", "env_kwargs.episode_length=50", "--set", "eval_episodes=2",
    ).run_id  # fmt: skip
    episodes = cli("episodes", run_id, "--json").json()
    check_metrics(episodes)
    # Training only ever traded inside the training range.
    exits = query(
        cli,
        "SELECT t.exit_time FROM trades t JOIN episodes e ON t.episode_id = e.id "
        "WHERE e.run_id = ?",
        run_id,
    )
    assert exits and all(str(t)[:4] == "2020" for (t,) in exits)
    assert cli("check", run_id).code == 0

    show = cli("show", run_id, "--json").json()
    assert show["config"]["train_range"] == TRAIN and show["config"]["eval_range"] == HELD_OUT
    paths = {c["kind"]: c["path"] for c in show["checkpoints"]}
    evals = show["evaluations"]
    by_opponent = Counter(e["opponent"] for e in evals)
    assert by_opponent == {"agent": 2, "buy_and_hold": 1, "random": 1}
    agents = {e["checkpoint_path"] for e in evals if e["opponent"] == "agent"}
    assert agents == {paths["final"], paths["best"]}
    for e in evals:
        if e["opponent"] != "agent":
            assert e["checkpoint_path"] is None
        assert e["episodes"] == (5 if e["opponent"] == "random" else 2)
        assert e["mean_length"] == 50
        assert e["mean_reward"] is not None and e["std_reward"] is not None
        for key in METRICS:
            if key != "win_rate" or e["metrics"]["trades_count"]:
                assert e["metrics"][key] is not None, (e["opponent"], key)
    hold = next(e for e in evals if e["opponent"] == "buy_and_hold")
    assert hold["metrics"]["trades_count"] == 1 and hold["metrics"]["exposure"] == 1.0
    # The text view says which checkpoint each agent evaluation played.
    text = cli("show", run_id).stdout
    assert "evaluation  agent final.zip" in text and "evaluation  agent best.zip" in text

    # `rltrack evaluate` plays the final checkpoint and the baselines again on the held-out
    # range, with the run's seed: the numbers the run recorded, recorded once more.
    again = cli("evaluate", run_id, "--episodes", "2", "--json")
    assert again.code == 0, again.stderr
    rows = {r["policy"]: r for r in again.json()}
    assert set(rows) == {"agent", "buy_and_hold", "random"}
    assert {r["date_range"] for r in rows.values()} == {HELD_OUT}
    held_out = {e["opponent"]: e for e in evals if e["checkpoint_path"] in (None, paths["final"])}
    for policy, row in rows.items():
        assert row["mean_reward"] == pytest.approx(held_out[policy]["mean_reward"]), policy
        assert row["metrics"]["pnl"] == pytest.approx(held_out[policy]["metrics"]["pnl"])
    assert len(cli("show", run_id, "--json").json()["evaluations"]) == len(evals) + 3
    # On the training range the numbers are in-sample, and the command says so.
    in_sample = cli(
        "evaluate", run_id, "--range", TRAIN, "--episodes", "1", "--no-baselines", "--no-record"
    )
    assert in_sample.code == 0, in_sample.stderr
    assert "in-sample" in in_sample.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--env", "CartPole-v1", "--train-range", TRAIN), "takes no date range"),
        (
            ("--train-range", "2010-01-01:2016-06-30", "--eval-range", "2016-01-01:"),
            "overlaps the training range",
        ),
        (
            ("--train-range", "2010-01-01:2015-12-31", "--eval-range", "2018-08-20:"),
            "fewer than",
        ),
        (("--data", "{tmp}/missing.csv"), "no such file"),
    ],
)
def test_bad_ranges_and_data_are_one_clear_line(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    argv = [a.format(tmp=tmp_path) for a in args]
    env = [] if "--env" in argv else ["--env", TRADING]
    result = cli("train", "--algo", "ppo", "--mode", "smoke", "--no-progress", *env, *argv)
    assert result.code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert "run_id:" not in result.stdout
