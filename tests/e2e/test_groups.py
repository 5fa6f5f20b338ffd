"""Groups in a real browser against a real server: the groups list, a group's aggregate learning
curve with its confidence band and its final scores with their intervals, two groups compared
(their curves, performance profiles and the probability of improvement), and the runs list
grouped by group. Every figure checked is the one the API answers."""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from rltrack.tracking.store import open_store
from rltrack.training.events import EpisodeEnded, EpisodeStarted, Event, RunEnded, RunStarted
from tests.api.conftest import LiveServer
from tests.e2e.conftest import SCREENSHOTS, T0, Site

EPISODES = 400  # four rollup blocks of 100 episodes per run
SEEDS = 5
STRONG, WEAK = "cartpole-ppo-seeds", "cartpole-dqn-seeds"


@dataclass(frozen=True)
class GroupsDb:
    """Two groups of five seeds each (the PPO seeds learn faster, with overlap) and one run
    in no group."""

    site: Site
    strong: list[str]  # run ids
    weak: list[str]
    loner: str

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.site.base_url}{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def group(self, name: str) -> dict[str, Any]:
        return next(g for g in self.api("/api/groups") if g["name"] == name)


def learning_run(
    run_id: str, *, group: str | None, algo: str, seed: int, slope: float, start: dt.datetime
) -> list[Event]:
    """A CartPole-like run whose reward climbs by about ``slope`` per episode (each seed a
    little faster or slower), with noise; timesteps and wall time grow with every episode."""
    rng = random.Random(seed)
    skill = slope * (1 + rng.gauss(0, 0.25))
    events: list[Event] = [
        RunStarted(
            run_id=run_id,
            name=f"cartpole-{algo}-s{seed}",
            algorithm=algo,
            env_id="CartPole-v1",
            backend="sb3",
            config={"algo": algo, "env": "CartPole-v1", "seed": seed},
            seed=seed,
            group=group,
            time=start,
        )
    ]
    timestep = 0
    t = start
    for i in range(EPISODES):
        reward = round(min(500.0, max(8.0, 15 + skill * i + rng.gauss(0, 12))), 2)
        steps = int(reward)
        events.append(EpisodeStarted(run_id, i, env_slot=0, start_timestep=timestep, time=t))
        end = t + dt.timedelta(milliseconds=10 * steps)
        events.append(
            EpisodeEnded(
                run_id=run_id, index=i, env_slot=0, status="completed",
                start_timestep=timestep, end_timestep=timestep + steps, steps=steps,
                total_reward=reward, start_time=t, time=end,
            )
        )  # fmt: skip
        timestep += steps
        t = end
    events.append(RunEnded(run_id, "completed", timesteps=timestep, episodes=EPISODES, time=t))
    return events


@pytest.fixture(scope="module")
def groups_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GroupsDb]:
    url = f"sqlite:///{tmp_path_factory.mktemp('groups') / 'rltrack.db'}"
    store = open_store(url)
    strong = [f"grp-ppo-{s}" for s in range(SEEDS)]
    weak = [f"grp-dqn-{s}" for s in range(SEEDS)]
    try:
        # Started in this order: the weak seeds, the strong ones, then the run in no group.
        for s, run_id in enumerate(weak):
            start = T0 + dt.timedelta(minutes=s)
            store.write(
                learning_run(run_id, group=WEAK, algo="dqn", seed=10 + s, slope=0.55, start=start)
            )
        for s, run_id in enumerate(strong):
            start = T0 + dt.timedelta(hours=1, minutes=s)
            store.write(
                learning_run(run_id, group=STRONG, algo="ppo", seed=s, slope=0.65, start=start)
            )
        start = T0 + dt.timedelta(hours=2)
        store.write(
            learning_run("grp-loner", group=None, algo="a2c", seed=99, slope=0.3, start=start)
        )
    finally:
        store.close()
    server = LiveServer(url)
    server.start()
    try:
        yield GroupsDb(Site(server.base_url, url), strong, weak, "grp-loner")
    finally:
        server.stop()


# -- the figures as the dashboard writes them (web/src/lib/estimates.ts) -------------------------
def decimals_for(*values: float | None) -> int:
    largest = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    if largest == 0:
        return 2
    return min(4, max(1, 3 - math.floor(math.log10(largest))))


def estimate_text(e: dict[str, float | None], digits: int) -> str:
    def fixed(v: float) -> str:
        text = f"{v:.{digits}f}"
        return text[1:] if re.fullmatch(r"-0(\.0+)?", text) else text

    assert e["value"] is not None and e["low"] is not None and e["high"] is not None
    return f"{fixed(e['value'])} [{fixed(e['low'])}, {fixed(e['high'])}]"


def band_pixels(page: Page, chart: str, color: tuple[int, int, int], alpha: float) -> int:
    """Pixels of the chart's (transparent) canvas painted with ``color`` at ``alpha``: a
    confidence band, which no line of the chart is drawn with."""
    return int(
        page.evaluate(
            """([name, rgb, alpha]) => {
                const canvas = document.querySelector(`[data-chart="${name}"] canvas`);
                const ctx = canvas.getContext('2d');
                const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
                const a = Math.round(alpha * 255);
                let n = 0;
                for (let i = 0; i < data.length; i += 4) {
                    if (Math.abs(data[i + 3] - a) > 2) continue;
                    if (rgb.every((c, k) => Math.abs(data[i + k] - c) <= 3)) n += 1;
                }
                return n;
            }""",
            [chart, list(color), alpha],
        )
    )


BLUE, RED = (0x25, 0x63, 0xEB), (0xDC, 0x26, 0x26)  # the palette's first two colours


def drawn(page: Page, name: str) -> None:
    page.locator(f'[data-chart="{name}"][data-drawn="true"]').wait_for()


# -- tests ---------------------------------------------------------------------------------------
def test_groups_list_links_each_group(page: Page, groups_db: GroupsDb) -> None:
    page.goto(f"{groups_db.site.base_url}/")
    page.get_by_role("link", name="Groups", exact=True).click()
    expect(page).to_have_url(f"{groups_db.site.base_url}/groups")
    rows = page.locator("[data-testid=groups-table] tbody tr")
    expect(rows).to_have_count(2)
    for name in (STRONG, WEAK):
        g = groups_db.group(name)
        row = page.locator(f'tr[data-group-id="{g["id"]}"]')
        expect(row.get_by_role("link", name=name)).to_be_visible()
        expect(row.get_by_test_id("group-runs-count")).to_have_text(str(SEEDS))
        expect(row.locator("[data-kind=manual]")).to_be_visible()
    expect(page.get_by_test_id("compare-groups-button")).to_be_disabled()


def test_group_page_shows_the_curve_with_its_band_and_the_scores(
    page: Page, groups_db: GroupsDb
) -> None:
    g = groups_db.group(STRONG)
    detail = groups_db.api(f"/api/groups/{g['id']}")
    page.goto(f"{groups_db.site.base_url}/groups")
    page.get_by_role("link", name=STRONG).click()
    expect(page).to_have_url(f"{groups_db.site.base_url}/groups/{g['id']}")
    expect(page.get_by_role("heading", name=STRONG)).to_be_visible()

    # The IQM, its band's two edges and the mean, over the API's curve points.
    drawn(page, "group-curve")
    chart = page.locator('[data-chart="group-curve"]')
    expect(chart).to_have_attribute("data-points", str(len(detail["curve"])))
    expect(chart).to_have_attribute("data-bands", "1")
    expect(chart).to_have_attribute("data-series", "4")
    assert len(detail["curve"]) >= 2
    assert all(p["iqm"]["low"] < p["iqm"]["high"] for p in detail["curve"])
    assert band_pixels(page, "group-curve", BLUE, 0.18) > 500, "no confidence band painted"
    expect(chart.locator(".u-legend")).to_contain_text("IQM 95% CI upper")

    # The final scores, each with its interval, as the API computed them.
    scores = detail["final_scores"]
    digits = decimals_for(*(scores[k]["value"] for k in ("iqm", "median", "mean")))
    table = page.get_by_test_id("final-scores")
    for key, label in (("iqm", "IQM"), ("median", "Median"), ("mean", "Mean")):
        row = table.locator(f"tr[data-score={key}]")
        expect(row).to_contain_text(label)
        expect(row).to_contain_text(estimate_text(scores[key], digits))
    iqm = scores["iqm"]
    assert iqm["low"] < iqm["value"] < iqm["high"]
    # CartPole-v1 has a reward threshold (475): the optimality gap against it.
    assert detail["target"]["source"] == "env"
    expect(table.locator("tr[data-score=optimality_gap]")).to_contain_text("Optimality gap")
    expect(page.get_by_test_id("scores-method")).to_contain_text("95% percentile bootstrap")

    # Its runs, each a link to its page.
    runs = page.locator("[data-testid=group-runs] tbody tr")
    expect(runs).to_have_count(SEEDS)
    for run in detail["runs"]:
        row = page.locator(f'[data-testid=group-runs] tr[data-run-id="{run["id"]}"]')
        expect(row.get_by_role("link", name=run["name"])).to_have_attribute(
            "href", f"/runs/{run['id']}"
        )
        expect(row.get_by_test_id("last-100-mean")).to_have_text(
            f"{run['last_100_mean']:,.2f}".rstrip("0").rstrip(".")
        )

    # Each seed's own curve on request, faint under the aggregate.
    page.get_by_test_id("per-run-toggle").check()
    expect(page).to_have_url(re.compile(r"per_run=true"))
    expect(chart).to_have_attribute("data-series", str(4 + SEEDS))
    drawn(page, "group-curve")

    # Over timesteps: the API's timestep curve.
    by_steps = groups_db.api(f"/api/groups/{g['id']}", x="timestep", per_run="true")
    page.get_by_role("button", name="Timestep").click()
    expect(page).to_have_url(re.compile(r"x=timestep"))
    expect(page.locator("[data-x=timestep]")).to_be_visible()
    # The aggregate's x points and every run's own (each run's blocks end at its own steps).
    xs = {p["x"] for p in by_steps["curve"]}
    xs |= {p["x"] for run in by_steps["per_run"] for p in run["points"]}
    assert len(by_steps["per_run"]) == SEEDS
    expect(chart).to_have_attribute("data-points", str(len(xs)))
    drawn(page, "group-curve")
    page.get_by_test_id("per-run-toggle").uncheck()
    expect(chart).to_have_attribute("data-points", str(len(by_steps["curve"])))
    expect(chart.locator(".u-legend")).to_contain_text("Timestep")
    page.get_by_role("button", name="Wall time").click()
    expect(page.locator("[data-x=time]")).to_be_visible()
    drawn(page, "group-curve")
    page.screenshot(path=str(SCREENSHOTS / "group_page_wall_time.png"), full_page=True)


def test_two_groups_compared_with_profiles_and_improvement(page: Page, groups_db: GroupsDb) -> None:
    strong, weak = groups_db.group(STRONG), groups_db.group(WEAK)
    page.goto(f"{groups_db.site.base_url}/groups")
    page.get_by_label(f"Select {STRONG} to compare").check()
    page.get_by_label(f"Select {WEAK} to compare").check()
    page.get_by_test_id("compare-groups-button").click()
    expect(page).to_have_url(re.compile(r"/groups/compare\?group=.+&group=.+"))
    expect(page.get_by_role("heading", name="Compare 2 groups")).to_be_visible()
    compared = groups_db.api("/api/groups/compare", group=[strong["id"], weak["id"]])

    # Both curves, each with its band, in its own colour.
    drawn(page, "groups-curves")
    curves = page.locator('[data-chart="groups-curves"]')
    expect(curves).to_have_attribute("data-bands", "2")
    expect(curves).to_have_attribute("data-series", "6")
    assert band_pixels(page, "groups-curves", BLUE, 0.18) > 300
    assert band_pixels(page, "groups-curves", RED, 0.18) > 300

    # The performance profiles: one stepped curve per group with its band.
    drawn(page, "performance-profiles")
    profiles = page.locator('[data-chart="performance-profiles"]')
    expect(profiles).to_have_attribute("data-bands", "2")
    expect(profiles).to_have_attribute("data-points", str(len(compared["profiles"][0]["points"])))

    # P(X > Y) with its interval for each ordered pair, as the API computed it.
    rows = page.get_by_test_id("improvement")
    expect(rows).to_have_count(2)
    names = {strong["id"]: STRONG, weak["id"]: WEAK}
    for imp in compared["improvements"]:
        p = imp["probability"]
        text = (
            f"P({names[imp['x']]} > {names[imp['y']]}) = "
            f"{p['value']:.2f} [{p['low']:.2f}, {p['high']:.2f}]"
        )
        expect(page.locator(f'tr[data-x="{imp["x"]}"][data-y="{imp["y"]}"]')).to_contain_text(text)
    better = next(i for i in compared["improvements"] if i["x"] == strong["id"])
    assert better["probability"]["value"] > 0.5 and better["probability"]["low"] < 1.0

    # The groups' final IQMs with their intervals.
    stats = {s["group"]["id"]: s for s in compared["groups"]}
    digits = decimals_for(
        *(
            stats[gid]["final_scores"][k]["value"]
            for gid in stats
            for k in ("iqm", "median", "mean", "optimality_gap")
        )
    )
    for gid in (strong["id"], weak["id"]):
        cell = page.locator(
            f'[data-testid=compare-groups] tr[data-group-id="{gid}"] td[data-score=iqm]'
        )
        expect(cell).to_have_text(estimate_text(stats[gid]["final_scores"]["iqm"], digits))


def test_runs_list_grouped_by_group(page: Page, groups_db: GroupsDb) -> None:
    page.goto(groups_db.site.base_url)
    expect(page.locator("[data-testid=runs-table] tbody tr")).to_have_count(2 * SEEDS + 1)
    expect(page.get_by_test_id("group-header")).to_have_count(0)
    page.get_by_test_id("group-by-toggle").check()
    headers = page.get_by_test_id("group-header")
    expect(headers).to_have_count(3)
    # Newest runs first, the groups in the order of their first run; the run in no group is the
    # newest of all, and comes last.
    expect(headers.nth(0)).to_contain_text(STRONG)
    expect(headers.nth(1)).to_contain_text(WEAK)
    expect(headers.nth(2)).to_contain_text("No group")
    body = page.locator("[data-testid=runs-table] tbody tr")
    order = [body.nth(i).get_attribute("data-run-id") or "header" for i in range(body.count())]
    strong_at = order.index("header")
    assert set(order[strong_at + 1 : strong_at + 1 + SEEDS]) == set(groups_db.strong)
    assert set(order[strong_at + 2 + SEEDS : strong_at + 2 + 2 * SEEDS]) == set(groups_db.weak)
    assert order[-1] == groups_db.loner
    # The choice survives a reload; a header leads to its group.
    page.reload()
    expect(page.get_by_test_id("group-header")).to_have_count(3)
    page.screenshot(path=str(SCREENSHOTS / "runs_grouped_by_group.png"), full_page=True)
    headers.nth(1).get_by_role("link", name=WEAK).click()
    expect(page.get_by_role("heading", name=WEAK)).to_be_visible()
    # A run of a group leads to it; a run in no group has no such link.
    page.goto(f"{groups_db.site.base_url}/runs/{groups_db.strong[0]}")
    page.get_by_test_id("run-group").click()
    expect(page.get_by_role("heading", name=STRONG)).to_be_visible()
    page.goto(f"{groups_db.site.base_url}/runs/{groups_db.loner}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_test_id("run-group")).to_have_count(0)


def test_empty_and_missing_groups(page: Page, fresh_site: Site) -> None:
    page.goto(f"{fresh_site.base_url}/groups")
    expect(page.get_by_text("No groups yet")).to_be_visible()
    page.goto(f"{fresh_site.base_url}/groups/no-such-group")
    expect(page.get_by_text("Group not found")).to_be_visible()
    page.goto(f"{fresh_site.base_url}/groups/compare?group=a")
    expect(page.get_by_text("Pick 2 to 8 groups to compare")).to_be_visible()
