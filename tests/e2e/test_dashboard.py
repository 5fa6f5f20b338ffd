"""The dashboard in a real browser against a real server: the runs list and its filters, a
run's charts and tables, a trading episode, a comparison, live updates, exports and outages."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import imageio_ffmpeg
import pytest
from playwright.sync_api import Page, Route, expect

from rltrack.tracking.store import Store
from rltrack.training.events import ArtifactSaved, Event, Heartbeat, RunEnded
from tests.e2e.conftest import PPO_CONFIG, T0, Seeded, Site, episode, run_started

Seed = tuple[str, Seeded]


def drawn_points(page: Page, name: str) -> int:
    """Waits until the chart ``name`` is drawn; the number of points it drew."""
    chart = page.locator(f'[data-chart="{name}"][data-drawn="true"]')
    chart.wait_for()
    marks = page.evaluate(f"performance.getEntriesByName('chart-drawn:{name}').length")
    assert marks >= 1, f"no performance mark for chart {name}"
    return int(chart.get_attribute("data-points") or -1)


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def expect_runs(page: Page, run_ids: list[str]) -> None:
    """Waits until the runs table lists exactly ``run_ids``, top to bottom."""
    rows = page.locator("[data-testid=runs-table] tbody tr")
    expect(rows).to_have_count(len(run_ids))
    for i, run_id in enumerate(run_ids):
        expect(rows.nth(i)).to_have_attribute("data-run-id", run_id)


# -- the runs list ------------------------------------------------------------------------------
def test_runs_list_shows_every_run_with_its_figures(page: Page, site: Site, seeded: Seed) -> None:
    _, runs = seeded
    page.goto(site.base_url)
    expect(page.locator("[data-testid=runs-table] tbody tr")).to_have_count(3)
    expect(page.get_by_text("3 runs")).to_be_visible()
    # Newest first.
    expect_runs(page, [runs.trading.id, runs.dqn.id, runs.ppo.id])

    ppo = page.locator(f'tr[data-run-id="{runs.ppo.id}"]')
    expect(ppo.get_by_role("link", name=runs.ppo.name)).to_be_visible()
    expect(ppo.locator("[data-status=completed]")).to_be_visible()
    expect(ppo.locator("[data-testid=run-episodes]")).to_have_text("120")
    expect(ppo).to_contain_text("agent-a")
    expect(ppo).to_contain_text("2m 02s")  # start to end
    expect(ppo).to_contain_text("75%")  # last rolling win rate
    dqn = page.locator(f'tr[data-run-id="{runs.dqn.id}"]')
    expect(dqn.locator("[data-status=stopped]")).to_be_visible()
    expect(page.get_by_test_id("pager-label")).to_have_text("1–3 of 3")


def test_filters_narrow_the_list_and_stay_in_the_url(page: Page, site: Site, seeded: Seed) -> None:
    _, runs = seeded
    page.goto(site.base_url)
    expect(page.locator("[data-testid=runs-table] tbody tr")).to_have_count(3)

    page.get_by_label("Status").select_option("stopped")
    expect(page).to_have_url(re.compile(r"status=stopped"))
    expect_runs(page, [runs.dqn.id])

    page.get_by_label("Status").select_option("")
    page.get_by_label("Agent").select_option("agent-a")
    expect_runs(page, [runs.ppo.id])

    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("[data-testid=runs-table] tbody tr")).to_have_count(3)

    page.get_by_label("Search run names").fill("trader")
    expect_runs(page, [runs.trading.id])
    page.get_by_label("Search run names").fill("")

    page.get_by_label("Algorithm").fill("dqn")
    expect_runs(page, [runs.dqn.id])
    page.get_by_label("Algorithm").fill("")
    page.get_by_label("Environment").fill("rltrack/Trading-v0")
    expect_runs(page, [runs.trading.id])
    page.get_by_label("Environment").fill("")
    page.get_by_label("Tag").fill("baseline")
    expect_runs(page, [runs.ppo.id])

    # The filtered list survives a reload.
    page.reload()
    expect(page.get_by_label("Tag")).to_have_value("baseline")
    expect(page.locator("[data-testid=runs-table] tbody tr")).to_have_count(1)

    page.get_by_label("Tag").fill("no-such-tag")
    expect(page.get_by_text("No runs match these filters")).to_be_visible()


def test_sorting_by_a_column(page: Page, site: Site, seeded: Seed) -> None:
    _, runs = seeded
    page.goto(site.base_url)
    expect(page.locator("[data-testid=runs-table] tbody tr")).to_have_count(3)
    page.get_by_role("button", name="Episodes").click()
    expect(page).to_have_url(re.compile(r"sort=-episodes"))
    expect(page.locator("[data-testid=runs-table] tbody tr").first).to_have_attribute(
        "data-run-id", runs.ppo.id
    )
    expect_runs(page, [runs.ppo.id, runs.dqn.id, runs.trading.id])
    page.get_by_role("button", name="Episodes").click()
    expect(page).to_have_url(re.compile(r"sort=episodes"))
    expect(page.locator("[data-testid=runs-table] tbody tr").first).to_have_attribute(
        "data-run-id", runs.trading.id
    )
    page.get_by_role("button", name="Name").click()
    expect(page.locator("[data-testid=runs-table] tbody tr").first).to_have_attribute(
        "data-run-id", runs.dqn.id
    )


def test_an_empty_database_says_how_to_start(fresh_site: Site, page: Page) -> None:
    page.goto(fresh_site.base_url)
    expect(page.get_by_text("No runs yet")).to_be_visible()
    expect(page.get_by_text("rltrack train --config conf/demo.yaml")).to_be_visible()


# -- a run -------------------------------------------------------------------------------------
def test_run_page_draws_every_episode_and_shows_its_records(
    page: Page, site: Site, seeded: Seed
) -> None:
    _, runs = seeded
    page.goto(site.base_url)
    page.get_by_role("link", name=runs.ppo.name).click()
    expect(page).to_have_url(f"{site.base_url}/runs/{runs.ppo.id}")
    expect(page.get_by_role("heading", name=runs.ppo.name)).to_be_visible()

    assert drawn_points(page, "reward") == runs.ppo.episodes
    assert drawn_points(page, "length") == runs.ppo.episodes
    assert drawn_points(page, "win-rate") == runs.ppo.episodes
    assert drawn_points(page, "metric") == 10  # train/loss, logged ten times
    expect(page.get_by_test_id("metric-picker")).to_have_value("train/loss")
    page.get_by_test_id("metric-picker").select_option("train/entropy")
    expect(page.locator('[data-chart="metric"]')).to_have_attribute("data-drawn", "true")
    expect(page.locator('[data-chart="metric"] .u-legend')).to_contain_text("train/entropy")

    expect(page.get_by_test_id("stat-episodes")).to_contain_text("120")
    expect(page.get_by_test_id("stat-win-rate")).to_contain_text("75%")
    expect(page.get_by_test_id("stat-timesteps")).to_contain_text("2.4k")

    params = page.get_by_test_id("key-params")
    expect(params.locator("tr", has_text="hyperparams.learning_rate")).to_contain_text("0.0003")
    expect(params.locator("tr", has_text="hyperparams.n_steps")).to_contain_text("256")
    page.get_by_text("Full configuration (JSON)").click()
    expect(page.locator("details.json pre")).to_contain_text('"batch_size": 64')

    expect(page.get_by_test_id("export-trades")).to_have_count(0)  # CartPole makes no trades
    expect(page.locator("[data-testid=checkpoints-table] tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("checkpoints-table")).to_contain_text("ep119.zip")
    expect(page.locator("[data-testid=evaluations-table] tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("evaluations-table")).to_contain_text("312.5")
    # The step of the checkpoint each played (the final one was saved after episode 119).
    expect(page.get_by_test_id("evaluations-table")).to_contain_text("2,380")
    expect(page.get_by_test_id("evaluations-table")).to_contain_text("1,200")
    # Two checkpoints evaluated: their mean rewards as a curve over the checkpoints' steps.
    curve = page.locator('[data-chart="evaluations"]')
    expect(curve).to_have_attribute("data-drawn", "true")
    assert drawn_points(page, "evaluations") == 2


def test_episodes_table_pages_sorts_and_filters(page: Page, site: Site, seeded: Seed) -> None:
    _, runs = seeded
    page.goto(f"{site.base_url}/runs/{runs.ppo.id}")
    table = page.get_by_test_id("episodes-table")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(25)
    # Newest first, then page by page with the API's cursor.
    expect(rows.first).to_have_attribute("data-episode-index", "119")
    pager = page.locator("#episodes").get_by_test_id("pager-label")
    expect(pager).to_have_text("1–25 of 120")
    next_page = page.locator("#episodes").get_by_role("button", name="Next page")
    prev_page = page.locator("#episodes").get_by_role("button", name="Previous page")
    for expected_first, label in ((94, "26–50"), (69, "51–75"), (44, "76–100"), (19, "101–120")):
        next_page.click()
        expect(rows.first).to_have_attribute("data-episode-index", str(expected_first))
        expect(pager).to_have_text(f"{label} of 120")
    expect(rows).to_have_count(20)
    expect(next_page).to_be_disabled()
    prev_page.click()
    expect(rows.first).to_have_attribute("data-episode-index", "44")

    # Sorting by reward starts again from the first page.
    def rewards() -> list[float]:
        return [
            float(r.replace(",", "")) for r in rows.locator("td:nth-child(6)").all_inner_texts()
        ]

    table.get_by_role("button", name="Reward").click()
    wait_until(lambda: rewards() == sorted(rewards(), reverse=True), "rewards descend")
    expect(pager).to_have_text("1–25 of 120")
    assert rewards()[0] == max(rewards())
    table.get_by_role("button", name="Reward").click()
    wait_until(lambda: rewards() == sorted(rewards()), "rewards ascend")
    expect(rows).to_have_count(25)

    page.get_by_label("Episode status").select_option("error")
    expect(page.get_by_text("No error episodes")).to_be_visible()
    page.get_by_label("Episode status").select_option("completed")
    expect(pager).to_have_text("1–25 of 120")


def test_export_buttons_download_every_episode(page: Page, site: Site, seeded: Seed) -> None:
    _, runs = seeded
    page.goto(f"{site.base_url}/runs/{runs.ppo.id}")
    csv_link = page.get_by_test_id("export-csv")
    expect(csv_link).to_have_attribute(
        "href", f"/api/training-runs/{runs.ppo.id}/export?format=csv"
    )
    with page.expect_download() as download:
        csv_link.click()
    text = download.value.path().read_text()
    lines = [line for line in text.splitlines() if line]
    assert len(lines) == 1 + runs.ppo.episodes
    assert "total_reward" in lines[0]

    json_href = page.get_by_test_id("export-json").get_attribute("href")
    assert json_href == f"/api/training-runs/{runs.ppo.id}/export?format=json"
    body = httpx.get(site.base_url + json_href, timeout=30).text
    parsed = json.loads(body)
    items = parsed if isinstance(parsed, list) else parsed.get("episodes", parsed.get("items"))
    assert len(items) == runs.ppo.episodes


def test_unknown_run_says_not_found(page: Page, site: Site) -> None:
    page.goto(f"{site.base_url}/runs/no-such-run")
    expect(page.get_by_text("Run not found")).to_be_visible()
    page.get_by_role("link", name="Back to the runs").click()
    expect(page.locator("[data-testid=runs-table] tbody tr")).to_have_count(3)


# -- a trading episode ---------------------------------------------------------------------------
def test_trading_episode_shows_prices_trades_equity_and_drawdown(
    page: Page, site: Site, seeded: Seed
) -> None:
    _, runs = seeded
    page.goto(f"{site.base_url}/runs/{runs.trading.id}")
    rows = page.locator("[data-testid=episodes-table] tbody tr")
    expect(rows).to_have_count(runs.trading.episodes)
    expect(page.get_by_test_id("episodes-table")).to_contain_text("pnl")
    # The episodes count trades, so the run's trades download as CSV: every one, by episode.
    trades_link = page.get_by_test_id("export-trades")
    expect(trades_link).to_have_attribute(
        "href", f"/api/training-runs/{runs.trading.id}/export?format=csv&table=trades"
    )
    with page.expect_download() as download:
        trades_link.click()
    lines = [line for line in download.value.path().read_text().splitlines() if line]
    assert lines[0].startswith("episode_index,episode_id,seq,direction")
    assert len(lines) == 1 + runs.trading.episodes * seeded[1].trading_episode_trades
    page.locator('tr[data-episode-index="0"]').get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/episodes/\d+$"))
    expect(page.get_by_role("heading", name="Episode #0")).to_be_visible()

    assert drawn_points(page, "price") == 120  # one price per traced step
    assert drawn_points(page, "equity") == 120
    assert drawn_points(page, "drawdown") == 120
    trades = page.locator("[data-testid=trades-table] tbody tr")
    expect(trades).to_have_count(seeded[1].trading_episode_trades)
    expect(trades.first).to_contain_text("long")
    expect(trades.nth(1)).to_contain_text("short")
    expect(page.get_by_test_id("stat-trades")).to_contain_text("6")
    metrics = page.get_by_test_id("episode-metrics")
    expect(metrics.locator("tr", has_text="sharpe_ratio")).to_contain_text("0.8")
    expect(page.get_by_role("link", name=runs.trading.name).first).to_be_visible()


# -- comparing runs ------------------------------------------------------------------------------
def test_compare_two_runs(page: Page, site: Site, seeded: Seed) -> None:
    _, runs = seeded
    page.goto(site.base_url)
    compare = page.get_by_test_id("compare-button")
    expect(compare).to_be_disabled()
    page.get_by_label(f"Select {runs.ppo.name} to compare").check()
    expect(compare).to_be_disabled()
    page.get_by_label(f"Select {runs.dqn.name} to compare").check()
    expect(compare).to_be_enabled()
    compare.click()
    expect(page).to_have_url(re.compile(r"/compare\?run_ids="))
    assert set(page.url.split("run_ids=")[1].split(",")) == {runs.ppo.id, runs.dqn.id}

    expect(page.locator("[data-testid=compare-runs] tbody tr")).to_have_count(2)
    # Both runs on one episode axis: the union of their episodes (0..119 and 0..79).
    assert drawn_points(page, "compare-reward") == runs.ppo.episodes
    legend = page.locator('[data-chart="compare-reward"] .u-legend')
    expect(legend).to_contain_text(runs.ppo.name)
    expect(legend).to_contain_text(runs.dqn.name)

    differing = page.get_by_test_id("differing-params")
    lr = differing.locator("tr", has_text="hyperparams.learning_rate")
    expect(lr).to_contain_text("0.0003")
    expect(lr).to_contain_text("0.001")
    expect(differing.locator("tr", has_text="hyperparams.gamma")).to_contain_text("0.98")
    expect(differing).not_to_contain_text("hyperparams.batch_size")  # 64 in both


# -- live updates --------------------------------------------------------------------------------
def live_run_events(run_id: str, start: dt.datetime, first: int, last: int) -> list[Event]:
    events: list[Event] = []
    for i in range(first, last):
        events += episode(run_id, i, reward=10.0 + i, start=start, win=float(i % 2))
    return events


def test_a_running_run_gains_episodes_live(
    fresh_db: tuple[str, Store], fresh_site: Site, page: Page
) -> None:
    _, store = fresh_db
    run_id = "e2e-live-0000-0000-000000000001"
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    started = run_started(
        run_id,
        "live-run",
        algorithm="ppo",
        env_id="CartPole-v1",
        config=PPO_CONFIG,
        agent_id="agent-live",
        start=start,
    )
    # As the RunLogger writes them: the episodes, then a heartbeat with the progress counters.
    store.write([started, *live_run_events(run_id, start, 0, 5), Heartbeat(run_id, 100, 5)])

    page.goto(fresh_site.base_url)
    row = page.locator(f'tr[data-run-id="{run_id}"]')
    expect(row.locator("[data-status=running]")).to_be_visible()
    expect(row.get_by_test_id("running-duration")).to_contain_text("Running…")

    row.get_by_role("link", name="live-run").click()
    expect(page.get_by_test_id("stat-episodes")).to_contain_text("5")
    assert drawn_points(page, "reward") == 5
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-state", "live")

    # The trainer records ten more episodes while the page is open.
    store.write([*live_run_events(run_id, start, 5, 15), Heartbeat(run_id, 300, 15)])
    expect(page.get_by_test_id("stat-episodes")).to_contain_text("15", timeout=20_000)
    expect(page.locator('[data-chart="reward"]')).to_have_attribute("data-points", "15")
    expect(page.locator('[data-chart="reward"]')).to_have_attribute("data-drawn", "true")
    expect(page.locator("[data-testid=episodes-table] tbody tr").first).to_have_attribute(
        "data-episode-index", "14"
    )

    # It finishes: the page says so.
    store.write([RunEnded(run_id, "completed", timesteps=300, episodes=15)])
    expect(page.locator("h1 [data-status=completed]")).to_be_visible(timeout=20_000)


# -- the database away -----------------------------------------------------------------------------
def test_a_503_shows_a_banner_and_retries_after_retry_after(page: Page, site: Site) -> None:
    calls = {"n": 0}

    def unavailable_twice(route: Route) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body=json.dumps({"detail": "the database is unavailable"}),
            )
        else:
            route.continue_()

    page.route(re.compile(r".*/api/training-runs\?.*"), unavailable_twice)
    page.goto(site.base_url)
    banner = page.get_by_test_id("outage-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("database is unavailable")
    expect(banner).to_contain_text("Retrying")
    # Retry-After: 1 → the list arrives about two seconds later, and the banner goes.
    expect(page.locator("[data-testid=runs-table] tbody tr")).to_have_count(3, timeout=10_000)
    expect(banner).to_be_hidden()
    assert calls["n"] >= 3


# -- videos --------------------------------------------------------------------------------------
def test_run_videos_play_from_their_artifact_urls(
    fresh_db: tuple[str, Store],
    fresh_site: Site,
    page: Page,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, store = fresh_db
    monkeypatch.setenv("RLTRACK_HOME", str(tmp_path))  # the data root the server serves from
    run_id = "e2e-video-000-0000-000000000001"
    relative = f"runs/{run_id}/videos/progress.mp4"
    video = tmp_path / relative
    video.parent.mkdir(parents=True)
    encode = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi",
        "-i", "testsrc=size=160x120:rate=10", "-t", "2", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-movflags", "+faststart", str(video),
    ]  # fmt: skip
    subprocess.run(encode, check=True, timeout=60)
    start = T0
    store.write(
        [
            run_started(
                run_id, "video-run", algorithm="ppo", env_id="CartPole-v1",
                config=PPO_CONFIG, agent_id="agent-v", start=start,
            ),
            *live_run_events(run_id, start, 0, 3),
            ArtifactSaved(
                run_id, "video", relative, size=video.stat().st_size, media_type="video/mp4",
                metadata={"episodes": [0, 2]},
            ),
            RunEnded(run_id, "completed", timesteps=60, episodes=3, time=start),
        ]
    )  # fmt: skip

    page.goto(f"{fresh_site.base_url}/runs/{run_id}")
    player = page.locator("#videos video")
    expect(player).to_have_count(1)
    src = player.get_attribute("src") or ""
    assert "/api/artifacts/" in src
    # The browser reads the file's metadata through the download route (with Range requests).
    page.wait_for_function(
        "document.querySelector('#videos video').readyState >= 1", timeout=15_000
    )
    duration = page.evaluate("document.querySelector('#videos video').duration")
    assert 1.5 < duration < 2.5
    expect(page.locator("#videos figcaption")).to_contain_text("progress.mp4")
