"""The panel redraws only what changed from frame to frame; every frame must still look exactly
as if the panel had been drawn from scratch for it (no leftovers of longer or other text)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from rltrack.video.compose import layout_for
from rltrack.video.context import ChapterContext, RunContext
from rltrack.video.panel import Canvas, CellPanel
from rltrack.video.policy import Readout

CHAPTER = ChapterContext(
    milestone_pct=50.0,
    checkpoint_path="/runs/x/checkpoints/step_1000.zip",
    checkpoint_kind="periodic",
    checkpoint_timestep=1000,
    total_timesteps=2000,
    training_episodes_completed=37,
    best_reward=500.0,
    avg_reward=123.25,
    training_hours=0.02,
)
RUN = RunContext(
    run_id="0123456789abcdef",
    name="a-run-with-a-rather-long-name-to-be-cut",
    algorithm="ppo",
    env_id="CartPole-v1",
    backend="sb3",
    seed=0,
    agent_id=None,
    env_kwargs={},
    hyperparams=(("lr", "0.0003"), ("gamma", "0.99")),
    total_timesteps=2000,
    chapters=(CHAPTER,),
)
SCORES = [0.0, 7.0, 123.5, -0.0042, 1_000_000.5, 12_345_678.0, -250.75, 3.0]
VALUES = [0.5, -1234.567, 98765.4321, 0.0001]


def states(n_actions: int, episodes: int | None) -> list[tuple[Any, ...]]:
    rng = random.Random(n_actions)
    out = []
    for frame_no in (1, 2, 3, 9, 10, 99, 100, 1_000, 10_000, 123_456, 123_457, 5):
        probs = np.array([rng.random() for _ in range(n_actions)])
        readout = Readout(probs / probs.sum(), rng.choice(VALUES), rng.randrange(n_actions))
        marker = "NEW EPISODE 12" if frame_no % 3 == 0 else None
        episode = rng.randint(1, 12)
        out.append((episode, episodes, rng.choice(SCORES), frame_no, marker, readout))
    return out


def fresh_panel(runs: int, cell: int, labels: list[str]) -> tuple[Canvas, CellPanel]:
    layout = layout_for(runs, 960, 540)
    canvas = Canvas(960, 540)
    spot = layout.cells[cell]
    panel = CellPanel(
        canvas, spot.panel, layout.panel_style, RUN, labels, "action probabilities",
        compact=spot.compact, has_value=True,
    )  # fmt: skip
    panel.draw_static(CHAPTER, 0, 2)
    canvas.publish_static()
    return canvas, panel


@pytest.mark.parametrize("runs", [1, 2, 4])
@pytest.mark.parametrize("labels", [["left", "right"], [f"action {i}" for i in range(18)]])
@pytest.mark.parametrize("episodes", [3, None])
def test_every_frame_equals_the_panel_drawn_from_scratch(
    runs: int, labels: list[str], episodes: int | None
) -> None:
    canvas, panel = fresh_panel(runs, runs - 1, labels)
    sequence = states(len(labels), episodes)
    for i, state in enumerate(sequence):
        panel.draw_frame(*state)
        reference, ref_panel = fresh_panel(runs, runs - 1, labels)
        ref_panel.draw_frame(*state)
        assert np.array_equal(canvas.frame, reference.frame), f"frame {i}: {state[:5]}"
    panel.draw_done(2)
    reference, ref_panel = fresh_panel(runs, runs - 1, labels)
    ref_panel.draw_frame(*sequence[-1])
    ref_panel.draw_done(2)
    assert np.array_equal(canvas.frame, reference.frame)
