"""Episode pages (sorts, filters, cursors), summaries, one episode with its trades and steps,
and the model of an episode, over a live server."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import httpx
import pytest

from rltrack.tracking.store import Store
from rltrack.training.events import EpisodeEnded, StepRecord, TradeRecord
from tests.api.conftest import CONFIG, T0, run_events


def _pages(api: httpx.Client, run: str, **params: Any) -> list[dict[str, Any]]:
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor is not None else {})}
        r = api.get(f"/api/training-runs/{run}/episodes", params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert isinstance(cursor, str) and len(pages) < 1000


def _items(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page["items"]]


def test_pages_join_to_every_episode_once(api: httpx.Client, store: Store) -> None:
    store.write(run_events("paged", episodes=250, started=(248, 249)))
    store.write(run_events("other", episodes=5))
    pages = _pages(api, "paged", limit=40)
    assert len(pages) == 7
    items = _items(pages)
    assert [i["index"] for i in items] == list(range(250))
    assert len({i["id"] for i in items}) == 250
    assert all(page["total"] == 250 for page in pages)
    assert all(len(page["items"]) == 40 for page in pages[:-1])

    first = items[3]
    assert first["run_id"] == "paged" and first["status"] == "completed"
    assert first["total_reward"] == 3.0 and first["steps"] == 10 and first["epsilon"] == 0.5
    assert first["metrics"] == {"pnl": 3.0}
    assert first["start_time"].startswith("2026-01-01T00:00:03")
    assert items[249]["status"] == "started" and items[249]["total_reward"] is None

    started = _pages(api, "paged", status="started")
    assert [i["index"] for i in _items(started)] == [248, 249]
    high = _pages(api, "paged", min_reward=8, max_reward=9, limit=7)
    high_items = _items(high)
    assert {i["total_reward"] for i in high_items} == {8.0, 9.0}
    assert len(high_items) == high[0]["total"] == 48  # 248 and 249 are in flight

    backwards = _items(_pages(api, "paged", sort="-index", limit=64))
    assert [i["index"] for i in backwards] == list(range(249, -1, -1))


def _expected_order(values: dict[int, float | None], descending: bool) -> list[int]:
    """Index order for a sort by value: ties by index in the same direction, missing last."""
    present = [i for i, v in values.items() if v is not None]
    missing = [i for i, v in values.items() if v is None]
    sign = -1 if descending else 1
    present.sort(key=lambda i: (sign * values[i], sign * i))  # type: ignore[operator]
    missing.sort(key=lambda i: sign * i)
    return present + missing


def test_sorted_pages_follow_the_sort_across_cursors(api: httpx.Client, store: Store) -> None:
    # Many ties (13 distinct rewards), two rewards missing (in flight), one NaN (shown null).
    def reward(i: int) -> float:
        return math.nan if i == 50 else float((i * 7) % 13) - 6.0

    store.write(run_events("sorted", episodes=120, reward=reward, started=(3, 77)))
    values: dict[int, float | None] = {
        i: None if i in (3, 77, 50) else reward(i) for i in range(120)
    }
    for sort, descending in (("total_reward", False), ("-total_reward", True)):
        for limit in (7, 1000):
            items = _items(_pages(api, "sorted", sort=sort, limit=limit))
            assert [i["index"] for i in items] == _expected_order(values, descending), sort
    steps = _items(_pages(api, "sorted", sort="-steps", limit=11))
    assert [i["index"] for i in steps] == [
        *[i for i in range(119, -1, -1) if i not in (3, 77)], 77, 3,
    ]  # fmt: skip

    # A filtered, sorted page: the top rewards among episodes with pnl in [10, 60].
    top = _pages(api, "sorted", sort="-total_reward", min_pnl=10, max_pnl=60, limit=5)
    first = top[0]["items"]
    assert top[0]["total"] == 51  # pnl 10..60; the NaN reward (50) still has its pnl
    assert all(10 <= i["metrics"]["pnl"] <= 60 for i in _items(top))
    assert [i["total_reward"] for i in first] == sorted(
        (v for i, v in values.items() if v is not None and 10 <= i <= 60), reverse=True
    )[:5]


def test_trading_metric_filters(api: httpx.Client, store: Store) -> None:
    def metrics(i: int) -> dict[str, Any]:
        if i % 10 == 9:
            return {"note": "no trading metrics"}
        return {"pnl": float(i - 20), "sharpe_ratio": i / 10, "label": str(i)}

    store.write(run_events("trading", episodes=40, metrics=metrics))

    def indices(**params: Any) -> list[int]:
        return [i["index"] for i in _items(_pages(api, "trading", limit=1000, **params))]

    assert indices(min_pnl=0, max_pnl=5) == [20, 21, 22, 23, 24, 25]
    assert indices(min_sharpe=3.5) == [35, 36, 37, 38]
    assert indices(max_sharpe=0.3, min_pnl=-19) == [1, 2, 3]
    assert indices(min_pnl=-1000) == [i for i in range(40) if i % 10 != 9]  # missing: no match
    # A lower bound above the upper one is an empty range, not an error.
    assert indices(min_sharpe=3, max_sharpe=1) == [] and indices(min_pnl=1, max_pnl=0.5) == []
    summary = api.get(
        "/api/training-runs/trading/episodes/summary", params={"min_reward": 5, "max_reward": 1}
    )
    assert summary.status_code == 200 and summary.json()["count"] == 0


def test_episode_page_errors(api: httpx.Client, store: Store) -> None:
    store.write(run_events("errs", episodes=3))
    assert api.get("/api/training-runs/no-such-run/episodes").status_code == 404
    for params in (
        {"limit": 0}, {"limit": 100_000}, {"status": "running"}, {"min_reward": "nan"},
        {"min_pnl": "inf"}, {"sort": "reward"}, {"cursor": "x"}, {"cursor": "-1"},
        {"cursor": "1_"}, {"cursor": "1_nan"}, {"cursor": "1_inf"}, {"cursor": "1_0x10"},
        {"cursor": "1" * 19}, {"cursor": "1 "}, {"cursor": "1\n"}, {"cursor": "eyJzIjoiaW5kZXgifQ"},
        {"cursor": "1_" + "1" * 600}, {"limt": 5},
    ):  # fmt: skip
        r = api.get("/api/training-runs/errs/episodes", params=params)
        assert r.status_code == 422, params
        assert isinstance(r.json()["detail"], str), params
    past_end = api.get("/api/training-runs/errs/episodes", params={"cursor": "9"}).json()
    assert past_end == {"items": [], "total": 3, "next_cursor": None}


def test_cursors_are_positions_in_any_sort(api: httpx.Client, store: Store) -> None:
    """A cursor is `<index>` or `<index>_<value>`: where the last page stopped. Any cursor the
    schema allows is a position, whatever sort it came from."""
    rewards = {0: 5.0, 1: 1.0, 2: 3.0, 3: 1.0, 4: 2.0, 5: 9.0}
    store.write(run_events("pos", episodes=6, reward=lambda i: rewards[i], started=(5,)))

    def page(**params: Any) -> dict[str, Any]:
        r = api.get("/api/training-runs/pos/episodes", params=params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    first = page(sort="total_reward", limit=2)
    assert [e["index"] for e in first["items"]] == [1, 3] and first["next_cursor"] == "3_1.0"
    assert page(sort="index", limit=2)["next_cursor"] == "1"
    assert [e["index"] for e in page(sort="total_reward", cursor="3_1.0")["items"]] == [4, 2, 0, 5]
    # A value past every reward: only the episodes without one (in flight) are left.
    for cursor in ("0_1e300", "0_" + "9" * 400):
        assert [e["index"] for e in page(sort="total_reward", cursor=cursor)["items"]] == [5]
    assert [e["index"] for e in page(sort="-total_reward", cursor="0_-1E+2")["items"]] == [5]
    # No value: among the episodes without one, after that index.
    assert page(sort="total_reward", cursor="4")["items"][0]["index"] == 5
    assert page(sort="total_reward", cursor="5")["items"] == []
    # An index cursor in a value sort, a value cursor in the index sort: positions all the same.
    assert [e["index"] for e in page(sort="-index", cursor="3_2.5")["items"]] == [2, 1, 0]


def test_summary_over_filtered_episodes(api: httpx.Client, store: Store) -> None:
    def metrics(i: int) -> dict[str, Any]:
        return {"pnl": float(i), "sharpe_ratio": 1.0, "label": "x", "ok": True, "n": i % 2}

    store.write(
        run_events("summ", episodes=9, metrics=metrics, win=lambda i: float(i < 3), started=(8,))
    )
    r = api.get("/api/training-runs/summ/episodes/summary")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 9
    m = body["metrics"]
    assert set(m) == {"total_reward", "steps", "win", "epsilon", "pnl", "sharpe_ratio", "n"}
    assert m["total_reward"] == {"count": 8, "mean": 3.5, "median": 3.5, "min": 0.0, "max": 7.0}
    assert m["win"]["mean"] == pytest.approx(3 / 8) and m["win"]["median"] == 0.0
    assert m["pnl"] == {"count": 8, "mean": 3.5, "median": 3.5, "min": 0.0, "max": 7.0}
    assert m["n"]["count"] == 8 and m["n"]["median"] == 0.5

    odd = api.get("/api/training-runs/summ/episodes/summary", params={"min_pnl": 2, "max_pnl": 6})
    m = odd.json()["metrics"]
    assert odd.json()["count"] == 5
    assert m["total_reward"]["median"] == 4.0 and m["pnl"]["min"] == 2.0

    empty = api.get("/api/training-runs/summ/episodes/summary", params={"min_reward": 100})
    assert empty.json()["count"] == 0
    assert empty.json()["metrics"]["total_reward"] == {
        "count": 0, "mean": None, "median": None, "min": None, "max": None,
    }  # fmt: skip
    assert api.get("/api/training-runs/nope/episodes/summary").status_code == 404
    assert (
        api.get("/api/training-runs/summ/episodes/summary", params={"status": "x"}).status_code
        == 422
    )


def test_episode_with_trades_and_steps(api: httpx.Client, store: Store) -> None:
    store.write(run_events("trades", episodes=2))
    traded = EpisodeEnded(
        run_id="trades", index=2, env_slot=0, status="completed", start_timestep=20,
        end_timestep=25, steps=5, total_reward=1.5, start_time=T0,
        metrics={"pnl": 12.0, "sharpe_ratio": 0.7},
        trades=(
            TradeRecord("long", 0, 2, 100.0, 110.0, 1.0, 10.0, 0.1,
                        entry_time=T0, exit_time=T0 + dt.timedelta(minutes=2)),
            TradeRecord("short", 3, 4, 110.0, 108.0, 1.0, 2.0, 0.1),
        ),
        trace=tuple(StepRecord(s, float(s % 2), 0.3, price=100.0 + s, position=1.0,
                               portfolio_value=1000.0 + s) for s in range(5)),
        time=T0 + dt.timedelta(seconds=9),
    )  # fmt: skip
    store.write([traded])
    ids = {i["index"]: i["id"] for i in _items(_pages(api, "trades"))}

    r = api.get(f"/api/episodes/{ids[2]}")
    assert r.status_code == 200, r.text
    ep = r.json()
    assert ep["id"] == ids[2] and ep["index"] == 2 and ep["run_id"] == "trades"
    assert ep["step_count"] == 5 and ep["total_reward"] == 1.5
    assert ep["metrics"] == {"pnl": 12.0, "sharpe_ratio": 0.7}
    assert [t["seq"] for t in ep["trades"]] == [0, 1]
    assert ep["trades"][0] == {
        "seq": 0, "direction": "long", "entry_step": 0, "exit_step": 2,
        "entry_time": "2026-01-01T00:00:00Z", "exit_time": "2026-01-01T00:02:00Z",
        "entry_price": 100.0, "exit_price": 110.0, "quantity": 1.0, "pnl": 10.0, "costs": 0.1,
    }  # fmt: skip
    assert ep["trades"][1]["direction"] == "short" and ep["trades"][1]["entry_time"] is None
    assert [s["step"] for s in ep["steps"]] == [0, 1, 2, 3, 4]
    assert ep["steps"][3] == {
        "step": 3, "action": 1.0, "reward": 0.3, "price": 103.0, "position": 1.0,
        "portfolio_value": 1003.0,
    }  # fmt: skip

    plain = api.get(f"/api/episodes/{ids[0]}").json()
    assert plain["trades"] == [] and plain["steps"] == [] and plain["step_count"] == 10
    assert api.get("/api/episodes/999999999").status_code == 404
    assert api.get("/api/episodes/-3").status_code == 422
    assert api.get(f"/api/episodes/{2**64}").status_code == 422


def _episode_ids(api: httpx.Client, run: str) -> dict[int, int]:
    return {i["index"]: i["id"] for i in _items(_pages(api, run, limit=1000))}


def test_model_of_an_episode(api: httpx.Client, store: Store) -> None:
    store.write(run_events("model", episodes=80, checkpoints=(10, 50)))
    ids = _episode_ids(api, "model")

    def model(index: int) -> dict[str, Any]:
        r = api.get(f"/api/v1/episodes/{ids[index]}/model")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    assert model(5) == {"parameters": CONFIG, "checkpoint": None}
    at_10 = model(10)["checkpoint"]
    assert at_10["path"] == "/ck/model/ep10.zip" and at_10["episode_index"] == 10
    assert model(49)["checkpoint"]["path"] == "/ck/model/ep10.zip"
    assert model(50)["checkpoint"]["path"] == "/ck/model/ep50.zip"
    last = model(79)
    assert last["checkpoint"]["path"] == "/ck/model/ep50.zip"
    assert last["parameters"] == CONFIG
    assert {"id", "timestep", "kind", "sha256", "size", "created_at"} <= set(last["checkpoint"])

    assert api.get("/api/v1/episodes/999999999/model").status_code == 404
    assert "detail" in api.get("/api/v1/episodes/999999999/model").json()
    assert api.get("/api/v1/episodes/-1/model").status_code == 422
    assert api.get("/api/v1/episodes/abc/model").status_code == 422
    assert api.get(f"/api/v1/episodes/{2**64}/model").status_code == 422


def test_model_route_documents_what_is_per_run(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/episodes/{episode_id}/model"]["get"]
    text = op["description"].lower()
    assert "hyperparameters are per run" in text
    assert "weights are per checkpoint" in text


def test_non_finite_rewards_are_null_not_a_500(api: httpx.Client, store: Store) -> None:
    odd = {1: float("nan"), 2: float("inf"), 3: float("-inf")}
    store.write(run_events("odd", episodes=6, reward=lambda i: odd.get(i, 1.0)))
    r = api.get("/api/training-runs/odd/episodes")
    assert r.status_code == 200, r.text
    rewards = [i["total_reward"] for i in r.json()["items"]]
    assert rewards[0] == 1.0 and rewards[4] == 1.0
    assert all(v is None for v in rewards[1:4])
    for path in (
        "/api/training-runs/odd", "/api/training-runs", "/api/training-runs/odd/episodes/summary",
        "/api/training-runs/odd/export?format=json", "/api/compare?run_ids=odd,odd2",
    ):  # fmt: skip
        assert api.get(path).status_code in (200, 404), path
    assert api.get("/api/training-runs/odd", params={"max_points": 2}).status_code == 200
    for sort in ("total_reward", "-total_reward"):
        items = _items(_pages(api, "odd", sort=sort, limit=2))
        assert sorted(i["index"] for i in items) == list(range(6))
