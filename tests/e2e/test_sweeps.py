"""A sweep in a real browser against a real server: a real `rltrack sweep` (real `rltrack train`
trials, PPO on CartPole at smoke settings, two at a time, the slow learners pruned) and its page:
the trials table with the pruned ones marked and the best one highlighted, the optimisation
history, the parameter importances and the parallel coordinates, each as the API answers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import LiveServer
from tests.conftest import Cli
from tests.e2e.conftest import SCREENSHOTS
from tests.sweep.specs import cartpole_lr_spec

NAME = "e2e-cartpole-lr"
SPEC = cartpole_lr_spec(NAME)  # the sweep of tests/sweep/test_sweep.py
TRIALS = 6


@dataclass(frozen=True)
class SweepSite:
    base_url: str
    group_id: str
    sweep: dict[str, Any]  # what /api/sweeps/{group} answers


@pytest.fixture(scope="module")
def sweep_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SweepSite]:
    home = tmp_path_factory.mktemp("sweep")
    (home / "sweep.yaml").write_text(SPEC)
    cli = Cli(home)
    args = ("sweep", "--config", "sweep.yaml", "--trials", str(TRIALS), "--parallel", "2")
    done = subprocess.run(
        cli.argv(*args), capture_output=True, text=True, timeout=400, env=cli.env, cwd=home
    )
    assert done.returncode == 0, done.stderr
    server = LiveServer(f"sqlite:///{home / 'rltrack.db'}")
    server.start()
    try:
        group = next(
            g for g in httpx.get(f"{server.base_url}/api/groups").json() if g["name"] == NAME
        )
        sweep = httpx.get(f"{server.base_url}/api/sweeps/{group['id']}", timeout=60).json()
        yield SweepSite(server.base_url, group["id"], sweep)
    finally:
        server.stop()


def number_text(v: float) -> str:
    """A value as the dashboard's formatNumber(v, 4) writes it (en-US, at most 4 decimals)."""
    return f"{v:,.4f}".rstrip("0").rstrip(".")


def test_sweep_page_shows_trials_history_importances_and_parallel_coordinates(
    page: Page, sweep_site: SweepSite
) -> None:
    sweep = sweep_site.sweep
    counts = sweep["trial_counts"]
    assert counts["complete"] >= 2 and counts["pruned"] >= 1, counts  # the sweep pruned
    assert len(sweep["trials"]) == TRIALS

    # From the groups list, through the sweep group's page.
    page.goto(f"{sweep_site.base_url}/groups")
    row = page.locator(f'tr[data-group-id="{sweep_site.group_id}"]')
    expect(row.locator("[data-kind=sweep]")).to_be_visible()
    row.get_by_role("link", name=NAME).click()
    page.get_by_test_id("sweep-link").click()
    expect(page).to_have_url(f"{sweep_site.base_url}/sweeps/{sweep_site.group_id}")
    expect(page.get_by_role("heading", name=f"Sweep {sweep['study_name']}")).to_be_visible()
    expect(page.get_by_test_id("stat-trials")).to_contain_text(str(TRIALS))
    expect(page.get_by_test_id("stat-complete")).to_contain_text(str(counts["complete"]))
    expect(page.get_by_test_id("stat-pruned")).to_contain_text(str(counts["pruned"]))

    # The trials: pruned ones marked, the best one highlighted, each linking to its run.
    best = sweep["best_trial"]
    rows = page.locator("[data-testid=trials-table] tbody tr")
    expect(rows).to_have_count(TRIALS)
    for trial in sweep["trials"]:
        tr = page.locator(f'[data-testid=trials-table] tr[data-trial="{trial["number"]}"]')
        expect(tr).to_have_attribute("data-state", trial["state"])
        if trial["state"] == "PRUNED":
            expect(tr.locator("[data-state=PRUNED]")).to_have_text("pruned")
        if trial["value"] is not None:
            expect(tr).to_contain_text(number_text(trial["value"]))
        expect(tr.get_by_role("link", name=trial["run_id"][:8])).to_have_attribute(
            "href", f"/runs/{trial['run_id']}"
        )
    best_row = page.locator("[data-testid=trials-table] tr.best-trial")
    expect(best_row).to_have_count(1)
    expect(best_row).to_have_attribute("data-trial", str(best["number"]))
    expect(best_row.get_by_test_id("best-marker")).to_be_visible()
    expect(page.get_by_test_id("stat-best")).to_contain_text(number_text(best["value"]))

    # The optimisation history: each completed trial's value and the best so far.
    history = page.locator('[data-chart="sweep-history"][data-drawn="true"]')
    expect(history).to_have_attribute("data-points", str(len(sweep["history"])))
    expect(history).to_have_attribute("data-series", "2")
    assert len(sweep["history"]) == counts["complete"]
    assert sweep["history"][-1]["best"] == best["value"]

    # The importances, largest first, with the API's values.
    bars = page.locator("[data-testid=importances] .bar-row")
    expect(bars).to_have_count(len(sweep["importances"]))
    assert sweep["importances"], sweep["importances_note"]
    for i, imp in enumerate(sweep["importances"]):
        expect(bars.nth(i)).to_have_attribute("data-label", imp["param"])
        expect(bars.nth(i)).to_contain_text(f"{imp['importance']:.3f}".rstrip("0").rstrip("."))

    # Parallel coordinates: one line per completed or pruned trial across every parameter's
    # axis and the objective's, the best trial's on top.
    pc = page.get_by_test_id("parallel-coordinates")
    expect(pc).to_have_attribute("data-axes", str(len(sweep["params"]) + 1))
    expect(pc).to_have_attribute("data-lines", str(counts["complete"] + counts["pruned"]))
    for axis in sweep["params"]:
        expect(pc.locator(f'[data-axis="{axis}"]')).to_have_count(1)
    expect(pc.locator("g.parallel-line[data-best=true]")).to_have_attribute(
        "data-trial", str(best["number"])
    )
    expect(pc.locator("g.parallel-line[data-best=true] polyline")).to_have_count(1)
    pruned = next(t for t in sweep["trials"] if t["state"] == "PRUNED")
    # A pruned trial has no value: its line stops at the last parameter axis, dashed.
    line = pc.locator(f'g.parallel-line[data-trial="{pruned["number"]}"] polyline')
    expect(line).to_have_attribute("stroke-dasharray", "4 3")
    assert len((line.get_attribute("points") or "").split()) == len(sweep["params"])
    page.screenshot(path=str(SCREENSHOTS / "sweep_page.png"), full_page=True)


def test_a_group_that_is_no_sweep_has_no_sweep_page(page: Page, sweep_site: SweepSite) -> None:
    page.goto(f"{sweep_site.base_url}/sweeps/no-such-sweep")
    expect(page.get_by_text("Sweep not found")).to_be_visible()
