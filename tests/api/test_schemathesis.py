"""Property-based tests from the OpenAPI schema (schemathesis): whatever the input, no route of
the live server answers 5xx. Inputs valid by the schema and invalid ones, on every route, over a
database with a real run in it (so that some generated requests find records)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from rltrack.api.routes import events
from rltrack.tracking.store import Store
from rltrack.training.events import ArtifactSaved, EvaluationRecorded, MetricsLogged
from tests.api.conftest import T0, run_events

KEY = "fuzz-key"
# Examples per operation: valid inputs, then invalid ones (25 in all per route and backend).
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}


@pytest.fixture
def filled(store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("RLTRACK_API_KEY", KEY)  # the write routes check their bodies too
    monkeypatch.setenv("RLTRACK_HOME", str(tmp_path))
    monkeypatch.setattr(events, "POLL_S", 0.05)
    (tmp_path / "v.mp4").write_bytes(b"0123456789")
    store.write(run_events("1", episodes=30, checkpoints=(3,), tags=("t",)))
    store.write(
        [
            MetricsLogged("1", 10, {"loss": 1.0, "fps": 10.0}, time=T0),
            EvaluationRecorded("1", "/ck/1/ep3.zip", 5, 1.0, 0.5, time=T0),
            ArtifactSaved("1", "video", "v.mp4", size=10, media_type="video/mp4", created_at=T0),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    store.write(run_events("2", episodes=3, status="running", start=now))


def _call(session: requests.Session, base_url: str, case: Any) -> int:
    kwargs = case.as_transport_kwargs(base_url=base_url, headers={"X-API-Key": KEY})
    if case.path == "/api/events":
        # An endless stream: the status and the first bytes are what matter.
        with requests.request(**kwargs, stream=True, timeout=10) as r:
            next(r.iter_content(64), b"")
            return r.status_code
    return session.request(**kwargs, timeout=30).status_code


def test_no_input_gives_a_server_error(api: httpx.Client, filled: None) -> None:
    base_url = str(api.base_url).rstrip("/")
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {"/api/events", "/api/compare", "/api/training-runs/{run_id}/export"} <= paths
    failures: list[str] = []
    session = requests.Session()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                status = _call(session, base_url, case)
                if status >= 500:
                    failures.append(f"{status} from {case.method} {case.formatted_path} "
                                    f"query={case.query} body={case.body!r}")  # fmt: skip

            try:
                check()
            except Unsatisfiable:
                # Nothing can be made invalid in an operation without parameters.
                assert mode is GenerationMode.NEGATIVE, operation.path
    assert not failures, "\n".join(failures[:20])
