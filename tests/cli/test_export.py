"""`rltrack export`: the same bytes as the API's export download, to a file or standard output,
and bad choices refused before anything is written."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from rltrack.tracking.store import open_store
from rltrack.training.events import EpisodeEnded, TradeRecord
from tests.api.conftest import run_events, serve
from tests.conftest import Cli


@pytest.fixture
def recorded(cli: Cli) -> Iterator[httpx.Client]:
    """Run "tr" in the CLI's default database, with i % 3 trades in episode i; a live API on it."""
    url = f"sqlite:///{cli.home / 'rltrack.db'}"
    store = open_store(url)
    store.write(
        [
            dataclasses.replace(
                e,
                trades=tuple(
                    TradeRecord("long", k, k + 1, 10.0 + k, 11.0 + k, 2.0, 2.0 - k, 0.1)
                    for k in range(e.index % 3)
                ),
            )
            if isinstance(e, EpisodeEnded)
            else e
            for e in run_events("tr", episodes=40)
        ]
    )
    store.close()
    yield from serve(url)


@pytest.mark.parametrize("table", ["episodes", "trades"])
@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_the_same_bytes_as_the_download(
    cli: Cli, recorded: httpx.Client, tmp_path: Path, table: str, fmt: str
) -> None:
    download = recorded.get("/api/training-runs/tr/export", params={"table": table, "format": fmt})
    assert download.status_code == 200
    out = tmp_path / f"tr.{fmt}"
    result = cli("export", "tr", "--table", table, "--format", fmt, "--out", str(out))
    assert result.code == 0, result.stderr
    assert f"{table} of name-tr (tr) written to {out} as {fmt}" in result.stderr
    if fmt == "parquet":  # the bytes carry the writer's metadata; the tables are equal
        assert pq.read_table(out).equals(pq.read_table(io.BytesIO(download.content)))
    else:
        assert out.read_bytes() == download.content
    rows = pq.read_table(out).num_rows if fmt == "parquet" else None
    if rows is not None:
        assert rows == (40 if table == "episodes" else sum(i % 3 for i in range(40)))


def test_standard_output_and_bad_choices(cli: Cli, recorded: httpx.Client) -> None:
    text = cli("export", "tr", "--table", "trades")
    assert text.code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("episode_index,episode_id,seq,direction")
    assert len(lines) == 1 + sum(i % 3 for i in range(40))
    assert cli("export", "tr", "--out", "-").stdout.count("\n") == 41

    for args, needle in (
        (("--table", "steps"), "--table 'steps': choose one of episodes, trades"),
        (("--format", "xlsx"), "--format 'xlsx': choose one of csv, json, parquet"),
        (("--out", str(cli.home / "no" / "such" / "x.csv")), "does not exist"),
        (("--out", str(cli.home)), "is a folder; name a file in it"),
    ):
        refused = cli("export", "tr", *args)
        assert refused.code == 2, (args, refused.stderr)
        assert needle in refused.stderr and "Traceback" not in refused.stderr
    missing = cli("export", "nope")
    assert missing.code == 2 and "nope" in missing.stderr


def test_episodes_json_is_the_apis_episode(cli: Cli, recorded: httpx.Client) -> None:
    """`rltrack episodes --json` gives each episode exactly as the API's episode pages do."""
    page = recorded.get("/api/training-runs/tr/episodes", params={"limit": 100})
    assert page.status_code == 200
    listed = cli("episodes", "tr", "--json").json()
    assert len(listed) == 40 and listed == page.json()["items"]
    assert {"id", "run_id", "agent_id"} <= listed[0].keys()
