"""``/api/events``: live updates of runs as Server-Sent Events.

The trainers are other processes (often other machines), so the server learns about
progress the only way it can: it polls the runs table about once a second and sends what
changed. Each wait is short and checks whether the client went away, so a closed tab ends
its stream within a fraction of a second.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from rltrack.api.deps import StoreDep
from rltrack.api.responses import errors
from rltrack.tracking.store import RunProgress, Store, StoreError

router = APIRouter(prefix="/api", tags=["events"])

# Module attributes, read at every use, so that tests can shorten them.
POLL_S = 1.0
KEEPALIVE_S = 15.0
CHECK_S = 0.2  # how often a wait looks for a disconnected client
RETRY_MS = 2000  # how long a browser waits before reconnecting a dropped stream


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _changes(
    before: dict[str, RunProgress] | None, now: list[RunProgress], run_id: str | None
) -> list[RunProgress]:
    """What to announce: on the first poll the runs still running (or the one run asked for:
    the state a client starts from); afterwards every run that appeared or changed."""
    if before is None:
        return [p for p in now if run_id is not None or p.status == "running"]
    return [p for p in now if before.get(p.run_id) != p]


async def _wait(request: Request, seconds: float) -> bool:
    """Sleep ``seconds`` in short steps; False as soon as the client has gone."""
    deadline = time.monotonic() + seconds
    while True:
        if await request.is_disconnected():
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        await asyncio.sleep(min(CHECK_S, left))


async def run_events(request: Request, store: Store, run_id: str | None) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    known: dict[str, RunProgress] | None = None
    failing = False
    last_sent = time.monotonic()
    while True:
        out: list[str] = []
        try:
            progress = await run_in_threadpool(store.run_progress, run_id)
        except StoreError as exc:
            if not failing:  # once per outage, not once a second
                out.append(sse("error", {"detail": str(exc)}))
            failing = True
        else:
            failing = False
            for p in _changes(known, progress, run_id):
                out.append(
                    sse(
                        "run",
                        {
                            "run_id": p.run_id,
                            "status": p.status,
                            "episodes": p.episodes,
                            "timesteps": p.timesteps,
                        },
                    )  # fmt: skip
                )
            known = {p.run_id: p for p in progress}
        if not out and time.monotonic() - last_sent >= KEEPALIVE_S:
            out.append(": keepalive\n\n")
        if out:
            yield "".join(out)
            last_sent = time.monotonic()
        if not await _wait(request, POLL_S):
            return


def _event(name: str, model: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": f"#/components/schemas/{model}"},
            },
        },
        "required": ["event", "data"],
    }


# Each event of the stream (OpenAPI 3.1: the schema of a sequential media type is one item's).
EVENT_SCHEMA = {"oneOf": [_event("run", "RunEventPublic"), _event("error", "ErrorPublic")]}


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "An event stream, which does not end by itself.",
            "content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
        },
        422: errors()[422],
    },
    description="Server-Sent Events. `event: run` with data `{run_id, status, episodes, "
    "timesteps}` when a run appears, changes status, or its episode or timestep counters "
    "move (checked about once a second). On connecting, the runs that are running (or, with "
    "`run_id`, that run whatever its status) are sent as they are. `event: error` with "
    "`{detail}` when the database cannot be read (the stream goes on and recovers with it). "
    "A `: keepalive` comment every 15 s of silence.",
)
async def stream_events(
    request: Request,
    store: StoreDep,
    run_id: Annotated[
        str | None,
        Query(
            max_length=255,
            description="Only this run (its full id).",
            examples=["9f1c2d3e4b5a46789abcdef012345678"],
        ),
    ] = None,
) -> StreamingResponse:
    return StreamingResponse(
        run_events(request, store, run_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
