"""A two-node Ray cluster writing to PostgreSQL: a head node with no CPUs (so every env runner
lands on the worker node), the trainer joining it with --ray-address, the records in a real
PostgreSQL database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli


@pytest.fixture
def two_nodes() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


@pytest.mark.postgres
def test_runners_on_a_worker_node_record_into_postgres(
    tmp_path: Path, pg_url: str, two_nodes: Any
) -> None:
    head, worker = two_nodes.head_node, two_nodes.list_all_nodes()[1]
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(home, db=pg_url)
    result = cli(
        "train", "--backend", "rllib", "--algo", "ppo", "--env", "CartPole-v1",
        "--num-env-runners", "2", "--num-envs-per-env-runner", "2", "--mode", "smoke",
        "--total-timesteps", "2048", "--ray-address", two_nodes.address, "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    run_id = result.run_id
    assert "postgresql" in result.stdout
    episodes = cli("episodes", run_id, "--json").json()
    assert [e["index"] for e in episodes] == list(range(len(episodes)))
    assert {e["env_slot"] for e in episodes} == {0, 1, 2, 3}
    assert all(e["status"] != "started" for e in episodes)
    show = cli("show", run_id, "--json").json()
    assert show["status"] == "completed"
    assert sum(e["steps"] - e["drain_steps"] for e in episodes) == show["timesteps"] >= 2048
    assert cli("check", run_id).code == 0
    # Every env runner ran on the worker node, none on the head.
    runners = json.loads((home / "runs" / run_id / "processes.json").read_text())["env_runners"]
    assert set(runners) == {"1", "2"}
    assert {r["node"] for r in runners.values()} == {worker.node_id} != {head.node_id}
    # The run joined the cluster and left it running.
    assert head.remaining_processes_alive() and worker.remaining_processes_alive()
