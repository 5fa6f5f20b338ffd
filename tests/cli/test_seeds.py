"""`rltrack train --seeds` and `--group`: one run per seed as one group, through the real command
(each seed a real `rltrack train` process), a real SQLite file and the store read back."""

from __future__ import annotations

import signal
import time

import pytest

from rltrack.tracking.store import RunFilter, open_store
from tests.conftest import Cli


def store_of(cli: Cli):  # type: ignore[no-untyped-def]
    return open_store(f"sqlite:///{cli.home / 'rltrack.db'}")


def test_three_seeds_two_at_a_time_make_one_group_of_complete_runs(cli: Cli) -> None:
    result = cli(
        "train", "--algo", "ppo", "--env", "CartPole-v1", "--mode", "smoke",
        "--total-timesteps", "1024", "--seeds", "0-2", "--parallel", "2", "--group", "lr-default",
        timeout=300,
    )  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    assert "group lr-default" in result.stdout and "rltrack group lr-default" in result.stdout
    store = store_of(cli)
    group = store.get_group("lr-default")
    assert (group.kind, group.runs, group.metadata["seeds"]) == ("seeds", 3, [0, 1, 2])
    runs = store.list_runs(RunFilter(group_id=group.id))
    assert sorted(r.seed for r in runs) == [0, 1, 2]
    assert {r.status for r in runs} == {"completed"} and {r.group_id for r in runs} == {group.id}
    # The same settings but the seed: one experiment.
    configs = [{k: v for k, v in r.config.items() if k not in ("seed", "run_name")} for r in runs]
    assert all(c == configs[0] for c in configs) and configs[0]["group"] == "lr-default"
    for run in runs:
        assert run.id[:8] in result.stdout  # the summary table lists each run
        episodes = store.list_episodes(run.id)
        assert [e.index for e in episodes] == list(range(len(episodes))) and episodes
        assert all(e.status != "started" for e in episodes)
        assert cli("check", run.id).code == 0
    store.close()


def test_a_run_started_on_its_own_joins_a_group_by_name(cli: Cli) -> None:
    for seed in ("5", "6"):
        result = cli(
            "train", "--algo", "a2c", "--env", "CartPole-v1", "--mode", "smoke",
            "--total-timesteps", "256", "--seed", seed, "--group", "by-hand", "--no-progress",
        )  # fmt: skip
        assert result.code == 0, result.stderr
    store = store_of(cli)
    group = store.get_group("by-hand")
    assert (group.kind, group.runs) == ("manual", 2)
    assert sorted(r.seed for r in store.list_runs(RunFilter(group_id=group.id))) == [5, 6]
    store.close()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--seeds", "3-1"), "the range 3-1 runs backwards; write 1-3"),
        (("--seeds", "a,b"), "write seeds as 0-4, 0,3,7 or 0-2,9"),
        (("--parallel", "2"), "give --seeds too"),
        (("--seed", "1", "--seeds", "0-2"), "--seed and --seeds: give one"),
    ],
)
def test_bad_seeds_are_one_clear_usage_error(cli: Cli, args: tuple[str, ...], needle: str) -> None:
    result = cli.in_process("train", "--no-progress", *args)
    assert result.code == 2
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_sigint_stops_the_running_seeds_and_starts_no_other(cli: Cli) -> None:
    proc = cli.popen(
        "train", "--algo", "ppo", "--env", "CartPole-v1", "--mode", "smoke",
        "--total-timesteps", "1000000", "--seeds", "0-3", "--parallel", "2", "--group", "cut",
    )  # fmt: skip
    try:
        store = store_of(cli)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # both first seeds are training and recording
            group = next((g for g in store.list_groups() if g.name == "cut"), None)
            runs = store.list_runs(RunFilter(group_id=group.id)) if group else []
            if len(runs) == 2 and all(r.episodes > 0 for r in runs):
                break
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "2 seeds not started" in stderr
    runs = store.list_runs(RunFilter(group_id=store.get_group("cut").id))
    assert sorted(r.seed for r in runs) == [0, 1] and {r.status for r in runs} == {"stopped"}
    for run in runs:
        assert all(e.status != "started" for e in store.list_episodes(run.id))
        assert cli("check", run.id).code == 0
    store.close()
