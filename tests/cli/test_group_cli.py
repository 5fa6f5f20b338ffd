"""`rltrack group` and `rltrack compare --group A --group B`, over SQLite and PostgreSQL: the
groups table, one group's runs and final scores with their CIs, and the comparison of a strong
group with a weak one (P(strong > weak) = 1, its CI printed)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from scipy import stats

from rltrack.tracking.store import Store, open_store
from tests.analysis.group_runs import group_events, noisy
from tests.conftest import Cli


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    s.write(group_events("ppo-seeds", "p", seeds=5, episodes=400, reward=noisy(100.0), empty=1))
    s.write(group_events("dqn-seeds", "d", seeds=4, episodes=300, reward=noisy(30.0)))
    s.write(group_events("lone", "l", seeds=1, episodes=200, reward=noisy(5.0), env_id="Pong"))
    yield s
    s.close()


def group_cli(cli: Cli, db_url: str, *args: str) -> tuple[int, str, str]:
    r = cli.in_process(*args, "--db", db_url)
    return r.code, r.stdout, r.stderr


def test_the_groups_and_one_group(cli: Cli, store: Store, db_url: str) -> None:
    code, text, _ = group_cli(cli, db_url, "group")
    assert code == 0
    for name, runs in (("ppo-seeds", "6"), ("dqn-seeds", "4"), ("lone", "1")):
        line = next(line for line in text.splitlines() if name in line)
        assert runs in line.split("│")[4] and "manual" in line
    code, text, err = group_cli(cli, db_url, "group", "ppo-seeds")
    assert code == 0, err
    assert "group ppo-seeds" in text and "6 runs" in text and "p-3" in text
    last = {
        f"p-{s}": float(np.mean([e.total_reward for e in store.list_episodes(f"p-{s}")][-100:]))
        for s in range(5)
    }
    x = np.array(list(last.values()))
    iqm = stats.trim_mean(x, 0.25)
    iqm_line = next(line for line in text.splitlines() if "IQM" in line)
    assert f"{iqm:.4g}" in iqm_line and "[" in iqm_line and "]" in iqm_line
    assert "optimality gap" in text and "below 475 (CartPole-v1's threshold)" in text
    assert "1 run(s) skipped" in err
    data = cli.in_process("group", "ppo-seeds", "--json", "--db", db_url).json()
    assert data["final_scores"]["scores"] == pytest.approx(last)
    assert data["final_scores"]["iqm"]["value"] == pytest.approx(iqm)
    low, high = data["final_scores"]["iqm"]["low"], data["final_scores"]["iqm"]["high"]
    assert low < iqm < high
    assert [s["run_id"] for s in data["skipped"]] == ["p-empty-0"]
    # The same seed gives the same interval; another seed another one.
    again = cli.in_process("group", "ppo-seeds", "--json", "--db", db_url).json()
    other = cli.in_process("group", "ppo-seeds", "--json", "--seed", "5", "--db", db_url).json()
    assert again["final_scores"]["iqm"] == data["final_scores"]["iqm"]
    assert other["final_scores"]["iqm"] != data["final_scores"]["iqm"]
    code, text, err = group_cli(cli, db_url, "group", "lone")
    assert code == 0 and "fewer than 2 runs" in err and "Pong has no reward threshold" in err
    code, _, err = group_cli(cli, db_url, "group", "nope")
    assert code == 2 and "no group 'nope'" in err


def test_compare_two_groups(cli: Cli, store: Store, db_url: str) -> None:
    code, text, err = group_cli(
        cli, db_url, "compare", "--group", "ppo-seeds", "--group", "dqn-seeds"
    )
    assert code == 0, err
    assert "ppo-seeds" in text and "dqn-seeds" in text and "95% CI" in text
    assert text.count("IQM") == 2 and text.count("optimality gap") >= 2
    strong = next(line for line in text.splitlines() if "ppo-seeds > dqn-seeds" in line)
    assert "1.000" in strong and "[1.000, 1.000]" in strong
    weak = next(line for line in text.splitlines() if "dqn-seeds > ppo-seeds" in line)
    assert "0.000" in weak and "[0.000, 0.000]" in weak
    data = cli.in_process(
        "compare", "--group", "ppo-seeds", "--group", "dqn-seeds", "--json", "--db", db_url
    ).json()
    ids = [g["group"]["id"] for g in data["groups"]]
    p = {(i["x"], i["y"]): i["probability"] for i in data["improvements"]}
    assert p[ids[0], ids[1]] == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert [pr["group_id"] for pr in data["profiles"]] == ids
    # A group of one run: a probability without an interval.
    code, text, err = group_cli(cli, db_url, "compare", "--group", "lone", "--group", "dqn-seeds")
    assert code == 0, err
    line = next(line for line in text.splitlines() if "lone > dqn-seeds" in line)
    assert line.split("│")[-2].strip() == "-"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--group", "ppo-seeds"), "compare --group takes 2 to 8 distinct groups, got 1"),
        (("--group", "ppo-seeds", "--group", "ppo-seeds"), "takes 2 to 8 distinct groups, got 1"),
        (("p-0", "--group", "ppo-seeds", "--group", "lone"), "runs or --group groups, not both"),
        (("--group", "ppo-seeds", "--group", "nope"), "no group 'nope'"),
        (("p-0", "p-1", "--target", "3"), "--target and --seed are options of compare --group"),
    ],
)
def test_compare_usage_errors(
    cli: Cli, store: Store, db_url: str, args: tuple[str, ...], message: str
) -> None:
    code, _, err = group_cli(cli, db_url, "compare", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
