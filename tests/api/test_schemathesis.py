"""Schemathesis against the live server, with all of its checks and all of its phases (examples,
coverage, fuzzing, stateful): every answer must be what the OpenAPI document says (status
codes, content types, headers, bodies), valid input accepted, invalid input refused, methods
as listed, writes authenticated and deletes final.

The database holds a recorded trading run (episodes with trades and step traces, checkpoints
whose files exist, an evaluation, a video), a run still training and runs to delete. Path
parameters are drawn from the real ids half of the time (dictionaries), so that requests reach
records, not only 404s; the rest of every value is generated from the document."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema

from rltrack.api.routes.groups import EXAMPLE_GROUPS
from rltrack.tracking.store import Store
from tests.analysis.group_runs import group_events, noisy
from tests.api.trading_run import running_run_events, trading_run_events

KEY = "fuzz-key"
SEED = 20260101
EXAMPLES = 30  # per operation and phase (fuzzing: positive and negative)
TRADING, LIVE = "trading-1", "live-1"
DOOMED = ("doomed-1", "doomed-2")  # what the DELETE route is pointed at
# Schemathesis' checks, every one of which runs. Three have little to find here, and run all the
# same: object_level_authorization compares what identities see of each other's objects (the
# API has one identity, its key, and no owned objects); ensure_resource_availability looks for
# what a create route made (runs are created by trainers, not the API); use_after_free follows
# the DELETE route (a deleted run must answer 404 everywhere).
ALL_CHECKS = {
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "positive_data_acceptance",
    "negative_data_rejection", "missing_required_header", "unsupported_method",
    "allow_header_conformance", "use_after_free", "ensure_resource_availability", "ignored_auth",
    "object_level_authorization", "max_response_time",
}  # fmt: skip


@dataclass
class Ids:
    runs: list[str]
    episodes: list[int]
    checkpoints: list[int]
    artifacts: list[int]
    groups: list[str]


@pytest.fixture
def filled(store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Ids:
    monkeypatch.setenv("RLTRACK_API_KEY", KEY)
    monkeypatch.setenv("RLTRACK_HOME", str(tmp_path))
    monkeypatch.setenv("RLTRACK_STALE_S", "3600")  # the live run stays running
    store.write(trading_run_events(TRADING, tmp_path))
    store.write(running_run_events(LIVE, dt.datetime.now(dt.UTC)))
    for run_id in DOOMED:
        store.write(trading_run_events(run_id, tmp_path, episodes=3))
    for name, level in zip(EXAMPLE_GROUPS, (100.0, 50.0), strict=True):  # as documented
        store.write(group_events(name, name, seeds=3, episodes=250, reward=noisy(level)))
    page = store.episode_page(TRADING, limit=5)
    return Ids(
        runs=[TRADING, LIVE, TRADING[:6]],  # a prefix names a run too
        episodes=[e.id for e in page.items],
        checkpoints=[c.id for c in store.list_checkpoints(TRADING)],
        artifacts=[a.id for a in store.list_artifacts(TRADING)],
        groups=[*EXAMPLE_GROUPS, store.get_group(EXAMPLE_GROUPS[0]).id],
    )


def config(ids: Ids) -> schemathesis.Config:
    half = 0.5

    def binding(name: str) -> dict[str, Any]:
        return {"dictionary": name, "probability": half}

    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "output": {"sanitization": {"enabled": False}},  # the failures show the key
            "workers": 1,  # hypothesis' lambda parsing is not thread-safe (Python 3.11)
            "request-timeout": 20,
            # The live updates never end: one event is enough, and a second of silence (a run
            # id that names no run) ends the read.
            "max-stream-events": 1,
            "operations": [
                {"include-path": "/api/events", "request-timeout": 1},
                # Deletes go to runs kept for them (and the live one: 409), not to ids that other
                # answers gave, so that the trading run stays for the other operations until
                # the stateful phase.
                {
                    "include-method": "DELETE",
                    "parameters": {"path.run_id": binding("doomed")},
                    "phases": {
                        phase: {"extra-data-sources": {"responses": False}}
                        for phase in ("examples", "coverage", "fuzzing")
                    },
                },
            ],
            # Every check, max_response_time included (it needs a limit).
            "checks": {"enabled": True, "max_response_time": 10},
            "phases": {
                # The document's examples, the parameters without one generated.
                "examples": {"enabled": True, "fill-missing": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": 6},
            },
            "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True},
            # The write routes need the key: the checks try them without it (ignored_auth).
            "auth": {"openapi": {"APIKeyHeader": {"api_key": KEY}}},
            "dictionaries": {
                "runs": {"values": ids.runs},
                "episodes": {"values": ids.episodes},
                "checkpoints": {"values": ids.checkpoints},
                "artifacts": {"values": ids.artifacts},
                "doomed": {"values": [*DOOMED, LIVE]},
                "groups": {"values": ids.groups},
                "group_names": {"values": list(EXAMPLE_GROUPS)},  # a name and an id: one group
            },
            "parameters": {
                "path.run_id": binding("runs"),
                "query.run_id": binding("runs"),
                "query.run_ids": binding("runs"),
                "path.episode_id": binding("episodes"),
                "path.checkpoint_id": binding("checkpoints"),
                "path.artifact_id": binding("artifacts"),
                "path.group_id": binding("groups"),
                "query.group": binding("group_names"),
            },
        }
    )


@dataclass
class Report:
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    statuses: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    phases: dict[str, Status] = field(default_factory=dict)
    checks: set[str] = field(default_factory=set)

    def add(self, recorder: Any) -> None:
        for case_id, interaction in recorder.interactions.items():
            if interaction.response is not None and case_id in recorder.cases:
                label = recorder.cases[case_id].value.operation.label
                self.statuses[label].add(interaction.response.status_code)
        for checks in recorder.checks.values():
            for check in checks:
                self.checks.add(check.name)
                if check.status == Status.FAILURE and check.failure_info is not None:
                    f = check.failure_info.failure
                    key = (f.code, f.operation or "", f.title)
                    self.failures.setdefault(key, f"{f.message}\n{check.failure_info.code_sample}")


def run_schemathesis(base_url: str, ids: Ids) -> Report:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config(ids))
    report = Report()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.add(event.recorder)
        elif isinstance(event, events.PhaseFinished):
            report.phases[event.phase.name.value] = event.status
        elif isinstance(event, events.NonFatalError):
            report.errors.append(
                f"{event.label}: {event.info.title}: {event.info.message}\n{event.value!r}"
            )
        elif isinstance(event, events.FatalError):
            report.errors.append(repr(event.exception))
    return report


def test_the_api_conforms_to_its_openapi_document(api: httpx.Client, filled: Ids) -> None:
    report = run_schemathesis(str(api.base_url).rstrip("/"), filled)
    assert not report.errors, "\n\n".join(report.errors)
    assert not report.failures, "\n\n".join(
        f"{code} {operation}: {title}\n{detail}"
        for (code, operation, title), detail in sorted(report.failures.items())
    )
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        assert report.phases.get(phase) == Status.SUCCESS, report.phases
    assert report.checks == ALL_CHECKS, ALL_CHECKS ^ report.checks
    # The requests reached the records, not only refusals and 404s: each operation answered
    # each of these statuses at least once.
    reached = {
        "GET /api/training-runs": {200, 422},
        "GET /api/training-runs/{run_id}": {200, 404},
        "GET /api/training-runs/{run_id}/episodes": {200},
        "GET /api/episodes/{episode_id}": {200},
        "GET /api/checkpoints/{checkpoint_id}/download": {206},
        "GET /api/artifacts/{artifact_id}/download": {206},
        "GET /api/training-runs/{run_id}/export": {200},
        "GET /api/compare": {200},
        "GET /api/groups": {200},
        "GET /api/groups/{group_id}": {200, 404},
        "GET /api/groups/compare": {200},
        "GET /api/events": {200},
        "PATCH /api/training-runs/{run_id}": {200, 401},
        "DELETE /api/training-runs/{run_id}": {204, 409, 401},
    }
    for label, wanted in reached.items():
        assert wanted <= report.statuses[label], (label, sorted(report.statuses[label]))
