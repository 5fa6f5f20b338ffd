"""A run whose records the database partly refused says so on its page, with the cause."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from rltrack.tracking.store import Store
from rltrack.training.events import RunEnded
from tests.e2e.conftest import PPO_CONFIG, T0, Site, episode, run_started


def test_the_run_page_shows_records_lost_with_the_cause(
    fresh_db: tuple[str, Store], fresh_site: Site, page: Page
) -> None:
    _, store = fresh_db
    run_id = "e2e-lost-0000-0000-000000000001"
    store.write(
        [
            run_started(
                run_id,
                "lossy-run",
                algorithm="ppo",
                env_id="CartPole-v1",
                config=PPO_CONFIG,
                agent_id="agent-l",
                start=T0,
            ),  # fmt: skip
            *[ev for i in (0, 1, 3) for ev in episode(run_id, i, reward=1.0, start=T0)],
            RunEnded(
                run_id,
                "completed",
                40,
                3,
                time=T0,
                records_lost=2,
                metadata={"records_lost_cause": "EpisodeStarted: episode 2 refused"},
            ),  # fmt: skip
        ]
    )
    page.goto(f"{fresh_site.base_url}/runs/{run_id}")
    banner = page.get_by_test_id("records-lost")
    expect(banner).to_contain_text("the database refused 2 records")
    expect(banner).to_contain_text("EpisodeStarted: episode 2 refused")
