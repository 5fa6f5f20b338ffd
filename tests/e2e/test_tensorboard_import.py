"""Runs imported from TensorBoard event files show in the dashboard like any other: SB3's
rollout/ep_rew_mean is a training metric of the run page, drawn from its imported points."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect
from stable_baselines3 import PPO

from rltrack.tracking.store import Store
from rltrack.tracking.tensorboard import import_runs
from tests.e2e.conftest import Site


def test_an_imported_sb3_log_shows_its_reward_curve(
    fresh_db: tuple[str, Store], fresh_site: Site, page: Page, tmp_path: Path
) -> None:
    _, store = fresh_db
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=128, batch_size=64, n_epochs=1, seed=0,
                tensorboard_log=str(tmp_path / "tb"))  # fmt: skip
    model.learn(640)
    [(run_id, name, _)] = import_runs(store, tmp_path / "tb", "sb3-log")
    page.goto(f"{fresh_site.base_url}/runs/{run_id}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    select = page.get_by_label("Training metric")
    expect(select.locator("option", has_text="rollout/ep_rew_mean")).to_have_count(1)
    select.select_option("rollout/ep_rew_mean")
    expect(select).to_have_value("rollout/ep_rew_mean")
    # The chart's legend names the series it draws.
    legend = page.locator(".chart-wide .u-legend")
    expect(legend).to_contain_text("rollout/ep_rew_mean")
