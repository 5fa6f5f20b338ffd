"""Statistics over many runs as one experiment: groups of seeds (or a sweep's trials) with
their aggregate learning curves, final scores, performance profiles and probabilities of
improvement, each with a bootstrap confidence interval (see :mod:`rltrack.analysis.stats`
for the definitions, after rliable). Pure functions over the Store interface."""

from __future__ import annotations

from rltrack.analysis.groups import (
    X_AXES,
    Curve,
    GroupAnalysis,
    GroupComparison,
    Scores,
    XAxis,
    analyze_group,
    compare_groups,
)
from rltrack.analysis.stats import Estimate

__all__ = [
    "X_AXES",
    "Curve",
    "Estimate",
    "GroupAnalysis",
    "GroupComparison",
    "Scores",
    "XAxis",
    "analyze_group",
    "compare_groups",
]
