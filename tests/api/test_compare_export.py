"""Comparing runs, and exporting a run's episodes or trades as CSV, JSON and Parquet."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from rltrack import exporters
from rltrack.tracking.store import Store
from rltrack.training.events import EpisodeEnded, TradeRecord
from tests.api.conftest import CONFIG, run_events


def test_compare_runs(api: httpx.Client, store: Store) -> None:
    other = {
        "algo": "ppo", "learning_rate": 0.001, "gamma": 0.99, "net": {"layers": [64, 64, 32]},
        "extra": {"clip": 0.2},
    }  # fmt: skip
    store.write(run_events("cmp-a", episodes=30))
    store.write(run_events("cmp-b", episodes=40, config=other))
    store.write(run_events("cmp-c", episodes=5, config={**CONFIG, "gamma": 0.99}))
    r = api.get("/api/compare", params={"run_ids": "cmp-a,cmp-b,cmp-c"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [run["id"] for run in body["runs"]] == ["cmp-a", "cmp-b", "cmp-c"]
    run_b = body["runs"][1]
    assert run_b["config"] == other and run_b["metrics"]["total"] == 40
    assert {"stats", "checkpoint_paths", "backend", "notes", "duration_s"} <= set(run_b)
    diffs = {d["key"]: d["values"] for d in body["differing_params"]}
    assert diffs == {
        "learning_rate": {"cmp-a": 0.0003, "cmp-b": 0.001, "cmp-c": 0.0003},
        "net.layers": {"cmp-a": [64, 64], "cmp-b": [64, 64, 32], "cmp-c": [64, 64]},
        "extra.clip": {"cmp-a": None, "cmp-b": 0.2, "cmp-c": None},
    }
    # Prefixes work as everywhere; identical configs differ nowhere.
    same = api.get("/api/compare", params={"run_ids": "cmp-a, cmp-c"}).json()
    assert same["differing_params"] == []

    # One run, or one run named twice (by id and by prefix), is compared once.
    for ids in ("cmp-a", "cmp-a,cmp-a", "cmp-a,cmp-a,cmp-a"):
        one = api.get("/api/compare", params={"run_ids": ids}).json()
        assert [run["id"] for run in one["runs"]] == ["cmp-a"] and one["differing_params"] == []
    # Refused as the schema says: 1 to 8 non-empty items; a prefix of several runs is unknown.
    for ids in ("", ",cmp-a", "cmp-a,", "cmp-a,,cmp-b", ",".join(f"r{i}" for i in range(9))):
        r = api.get("/api/compare", params={"run_ids": ids})
        assert r.status_code == 422 and "run_ids" in r.json()["detail"], ids
    r = api.get("/api/compare", params={"run_ids": "cmp-a,cmp-"})
    assert r.status_code == 404 and "several runs" in r.json()["detail"]
    assert api.get("/api/compare", params={"run_ids": "cmp-a,nope-nope"}).status_code == 404
    assert api.get("/api/compare").status_code == 422


def _metrics(i: int) -> dict[str, Any]:
    m: dict[str, Any] = {"pnl": float(i), "trades_count": i % 3}
    if i % 2:
        m["note"] = f"odd, {i}"  # a comma: quoted in CSV
    if i == 4:
        m["flag"] = True
    return m


@pytest.fixture
def exported(store: Store, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(exporters, "BATCH", 7)  # several batches for a small run
    store.write(run_events("exp", episodes=30, metrics=_metrics, started=(29,)))
    store.write(run_events("other", episodes=3))
    return "exp"


def test_export_csv(api: httpx.Client, exported: str) -> None:
    r = api.get(f"/api/training-runs/{exported}/export", params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="exp-episodes.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 30 and [int(x["index"]) for x in rows] == list(range(30))
    assert list(rows[0])[:3] == ["id", "index", "run_id"]
    assert {"metric.pnl", "metric.trades_count", "metric.note", "metric.flag"} <= set(rows[0])
    assert rows[5]["metric.note"] == "odd, 5" and rows[4]["metric.note"] == ""
    assert rows[4]["metric.flag"] == "true" and rows[7]["metric.pnl"] == "7.0"
    assert rows[3]["total_reward"] == "3.0" and rows[3]["status"] == "completed"
    assert rows[29]["status"] == "started" and rows[29]["total_reward"] == ""
    assert rows[0]["start_time"].startswith("2026-01-01T00:00:00")

    default = api.get(f"/api/training-runs/{exported}/export")
    assert default.text == r.text  # CSV by default


def test_export_json(api: httpx.Client, exported: str) -> None:
    r = api.get(f"/api/training-runs/{exported}/export", params={"format": "json"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    items = json.loads(r.text)
    assert [i["index"] for i in items] == list(range(30))
    assert items[5]["metrics"] == {"pnl": 5.0, "trades_count": 2, "note": "odd, 5"}
    page = api.get(f"/api/training-runs/{exported}/episodes", params={"limit": 1}).json()
    assert items[0] == page["items"][0]  # the same episodes as the pages


def test_export_parquet(api: httpx.Client, exported: str) -> None:
    r = api.get(f"/api/training-runs/{exported}/export", params={"format": "parquet"})
    assert r.status_code == 200
    assert "exp-episodes.parquet" in r.headers["content-disposition"]
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 30
    assert pq.ParquetFile(io.BytesIO(r.content)).num_row_groups == 5  # batches of 7
    cols = table.to_pydict()
    assert cols["index"] == list(range(30))
    assert cols["metric.pnl"][7] == 7.0 and cols["metric.pnl"][29] is None
    assert str(table.schema.field("metric.trades_count").type) == "double"
    assert str(table.schema.field("metric.flag").type) == "bool"
    assert cols["metric.flag"][4] is True and cols["metric.flag"][5] is None
    assert cols["metric.note"][5] == "odd, 5"
    assert str(table.schema.field("start_time").type) == "timestamp[us, tz=UTC]"
    assert cols["total_reward"][3] == 3.0 and cols["total_reward"][29] is None


def test_export_errors(api: httpx.Client, store: Store) -> None:
    store.write(run_events("empty", episodes=0))
    r = api.get("/api/training-runs/empty/export", params={"format": "csv"})
    assert r.status_code == 200 and r.text.splitlines()[0].startswith("id,index,run_id")
    assert len(r.text.splitlines()) == 1
    assert json.loads(api.get("/api/training-runs/empty/export?format=json").text) == []
    empty = api.get("/api/training-runs/empty/export?format=parquet")
    assert pq.read_table(io.BytesIO(empty.content)).num_rows == 0
    assert api.get("/api/training-runs/nope/export").status_code == 404
    assert api.get("/api/training-runs/empty/export", params={"format": "xlsx"}).status_code == 422


def _with_trades(i: int, e: EpisodeEnded) -> EpisodeEnded:
    """Episode i made i % 4 trades (none for some): pages of 7 trades end inside episodes."""
    t0 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    trades = tuple(
        TradeRecord(
            "long" if k % 2 == 0 else "short",
            3 * k,
            3 * k + 2,
            100.0 + i,
            101.0 + i,
            1.0,
            float(i) + k / 10,
            0.05,
            t0 + dt.timedelta(days=3 * k),
            t0 + dt.timedelta(days=3 * k + 2),
        )  # fmt: skip
        for k in range(i % 4)
    )
    return dataclasses.replace(e, trades=trades)


def test_export_trades(api: httpx.Client, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporters, "BATCH", 7)
    events = [
        _with_trades(e.index, e) if isinstance(e, EpisodeEnded) else e
        for e in run_events("trading", episodes=20)
    ]
    store.write(events)
    store.write(run_events("no-trades", episodes=3))
    expected = [(i, k) for i in range(20) for k in range(i % 4)]

    r = api.get("/api/training-runs/trading/export", params={"table": "trades"})
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="trading-trades.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    # Every trade once, by episode and then in the order made, across pages of 7.
    assert [(int(x["episode_index"]), int(x["seq"])) for x in rows] == expected
    first = rows[0]
    assert (first["direction"], first["entry_step"], first["exit_step"]) == ("long", "0", "2")
    assert (first["entry_price"], first["pnl"], first["costs"]) == ("101.0", "1.0", "0.05")
    assert first["entry_time"].startswith("2020-01-01T00:00:00")
    assert rows[1]["direction"] == "long" and rows[2]["direction"] == "short"

    items = json.loads(api.get("/api/training-runs/trading/export?table=trades&format=json").text)
    assert [(x["episode_index"], x["seq"]) for x in items] == expected
    # The same numbers and times as the episode's own page.
    last = api.get(f"/api/episodes/{items[-1]['episode_id']}").json()["trades"][-1]
    assert (items[-1]["pnl"], items[-1]["exit_time"]) == (last["pnl"], last["exit_time"])

    table = pq.read_table(
        io.BytesIO(api.get("/api/training-runs/trading/export?table=trades&format=parquet").content)
    ).to_pydict()
    assert list(zip(table["episode_index"], table["seq"], strict=True)) == expected
    assert table["pnl"][0] == 1.0

    none = api.get("/api/training-runs/no-trades/export", params={"table": "trades"})
    assert none.status_code == 200 and none.text.splitlines() == [
        ",".join(name for name, _ in exporters.TRADE_COLUMNS)
    ]
    assert api.get("/api/training-runs/trading/export?table=steps").status_code == 422
