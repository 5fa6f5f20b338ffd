"""`make demo` records what makes every page of the dashboard worth a look: a CartPole run with
its milestone video, and a trading run with its held-out evaluation against buy-and-hold. The
test records it with the demo's own script (tools/demo.sh, what `make demo` runs before it
serves) and opens both runs in Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from rltrack.tracking.store import open_store
from tests.conftest import REPO
from tests.e2e.conftest import Site, _serve


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo")
    env = {
        **os.environ,
        "RLTRACK_HOME": str(home),
        "RLTRACK": f"{sys.executable} -m rltrack.cli",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("RLTRACK_DATABASE_URL", None)
    proc = subprocess.run(
        [str(REPO / "tools" / "demo.sh")], env=env, capture_output=True, text=True, timeout=400
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return home


@pytest.fixture
def demo_site(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("RLTRACK_HOME", str(demo_home))  # where the video files are served from
    yield from _serve(f"sqlite:///{demo_home / 'rltrack.db'}")


def run_id_named(home: Path, name: str) -> str:
    store = open_store(f"sqlite:///{home / 'rltrack.db'}")
    try:
        return store.get_run(name).id
    finally:
        store.close()


def test_the_demo_cartpole_run_has_checkpoints_and_a_video(
    demo_home: Path, demo_site: Site, page: Page
) -> None:
    run_id = run_id_named(demo_home, "demo-cartpole-ppo")
    page.goto(f"{demo_site.base_url}/runs/{run_id}")
    expect(page.get_by_role("heading", name="demo-cartpole-ppo")).to_be_visible()
    player = page.locator("#videos video")
    expect(player).to_have_count(1)
    page.wait_for_function(
        "document.querySelector('#videos video').readyState >= 1", timeout=15_000
    )
    duration = page.evaluate("document.querySelector('#videos video').duration")
    assert 11 < duration < 13  # --total-seconds 12
    chapters = json.loads(
        next((demo_home / "runs" / run_id / "videos").glob("*.chapters.json")).read_text()
    )
    assert len(chapters["chapters"]) == 4


def test_the_demo_trading_run_has_its_held_out_evaluation(
    demo_home: Path, demo_site: Site, page: Page
) -> None:
    run_id = run_id_named(demo_home, "demo-trading-ppo")
    page.goto(f"{demo_site.base_url}/runs/{run_id}")
    evaluations = page.locator("#evaluations")
    expect(evaluations).to_contain_text("buy_and_hold")
    expect(evaluations).to_contain_text("final.zip")
    page.goto(f"{demo_site.base_url}/runs/{run_id}#episodes")
    # A trading episode's page draws its prices and lists its trades.
    first = page.locator("#episodes a[href*='/episodes/']").first
    first.click()
    expect(page.locator("text=Trades").first).to_be_visible()
