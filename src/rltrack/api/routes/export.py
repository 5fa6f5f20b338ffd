"""``/api/training-runs/{run_id}/export``: every episode of a run as CSV, JSON or Parquet.

Streamed: episodes are read in keyset batches of :data:`BATCH` and written out batch by batch,
so memory does not grow with the run. Parquet is written batch by batch (one row group each)
to a spooled temporary file, then sent.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import tempfile
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from rltrack.api.deps import StoreDep
from rltrack.api.schemas import EpisodePublic, finite_json
from rltrack.tracking.entities import Episode
from rltrack.tracking.store import Store

router = APIRouter(prefix="/api/training-runs", tags=["training-runs"])

BATCH = 5000
SEND_CHUNK = 1 << 20
SPOOL_IN_MEMORY = 16 << 20  # bytes of Parquet kept in memory before spilling to disk
METRIC_PREFIX = "metric."
# The episode columns of CSV and Parquet, in order, with their Parquet types.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "int64"), ("index", "int64"), ("run_id", "string"), ("env_slot", "int64"),
    ("agent_id", "string"), ("status", "string"), ("start_time", "timestamp"),
    ("end_time", "timestamp"), ("start_timestep", "int64"), ("end_timestep", "int64"),
    ("steps", "int64"), ("total_reward", "float64"), ("win", "float64"),
    ("epsilon", "float64"), ("drain_steps", "int64"),
)  # fmt: skip
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}


def _batches(store: Store, run_id: str, first: list[Episode]) -> Iterator[list[Episode]]:
    batch = first
    while batch:
        yield batch
        if len(batch) < BATCH:
            return
        batch = store.episodes_after(run_id, batch[-1].index, BATCH)


def _row(e: Episode) -> dict[str, Any]:
    return {
        "id": e.id, "index": e.index, "run_id": e.run_id, "env_slot": e.env_slot,
        "agent_id": e.agent_id, "status": e.status, "start_time": e.start_time,
        "end_time": e.end_time, "start_timestep": e.start_timestep,
        "end_timestep": e.end_timestep, "steps": e.steps, "total_reward": e.total_reward,
        "win": e.win, "epsilon": e.epsilon, "drain_steps": e.drain_steps,
    }  # fmt: skip


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(finite_json(value))
    return value


def _csv(batches: Iterator[list[Episode]], keys: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS] + [METRIC_PREFIX + k for k in keys])
    for batch in batches:
        for e in batch:
            row = _row(e)
            writer.writerow(
                [_csv_cell(row[name]) for name, _ in COLUMNS]
                + [_csv_cell(e.metrics.get(k)) for k in keys]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json(batches: Iterator[list[Episode]]) -> Iterator[str]:
    yield "["
    sep = "\n"
    for batch in batches:
        parts = []
        for e in batch:
            item = EpisodePublic.of(e).model_dump(mode="json")
            item["metrics"] = finite_json(item["metrics"])
            parts.append(sep + json.dumps(item, allow_nan=False))
            sep = ",\n"
        yield "".join(parts)
    yield "\n]\n"


def _metric_type(kinds: set[str]) -> str:
    """A Parquet column type for a metric from the JSON types of its values."""
    kinds = kinds - {"null"}
    if kinds <= {"number"}:
        return "float64"
    if kinds == {"boolean"}:
        return "bool"
    return "string"


def _parquet(
    batches: Iterator[list[Episode]], metric_types: dict[str, set[str]]
) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "int64": pa.int64(), "float64": pa.float64(), "string": pa.string(),
        "bool": pa.bool_(), "timestamp": pa.timestamp("us", tz="UTC"),
    }  # fmt: skip
    metric_cols = {k: _metric_type(v) for k, v in metric_types.items()}
    schema = pa.schema(
        [pa.field(name, types[t]) for name, t in COLUMNS]
        + [pa.field(METRIC_PREFIX + k, types[t]) for k, t in metric_cols.items()]
    )

    def cell(value: Any, kind: str) -> Any:
        if value is None:
            return None
        if kind == "float64":
            try:
                number = float(value)
            except OverflowError:
                return None
            return number if math.isfinite(number) else None
        if kind == "bool":
            return bool(value)
        if kind == "string" and not isinstance(value, str):
            return json.dumps(finite_json(value))
        return value

    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as out:
        with pq.ParquetWriter(out, schema) as writer:
            for batch in batches:
                rows = [_row(e) for e in batch]
                columns: dict[str, list[Any]] = {
                    name: [cell(r[name], t) for r in rows] for name, t in COLUMNS
                }
                for k, t in metric_cols.items():
                    columns[METRIC_PREFIX + k] = [cell(e.metrics.get(k), t) for e in batch]
                writer.write_table(pa.Table.from_pydict(columns, schema=schema))
        out.seek(0)
        while chunk := out.read(SEND_CHUNK):
            yield chunk


@router.get(
    "/{run_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The episodes as a file download.",
            "content": {t: {} for t in MEDIA_TYPES.values()},
        },
        404: {"description": "No such run."},
    },
    description="Every episode of the run, by index, as a download. CSV and Parquet flatten "
    f"the episode metrics into `{METRIC_PREFIX}<name>` columns; JSON is an array of episodes "
    "as in the episodes page. Non-finite numbers are empty (CSV) or null.",
)
def export_run(
    store: StoreDep,
    run_id: str,
    format: Annotated[Literal["csv", "json", "parquet"], Query()] = "csv",
) -> StreamingResponse:
    run = store.get_run(run_id)
    # Read before the response starts, so that a database error is still a proper 503.
    metric_types = store.episode_metric_types(run.id) if format != "json" else {}
    first = store.episodes_after(run.id, None, BATCH)
    batches = _batches(store, run.id, first)
    body: Iterator[str] | Iterator[bytes]
    if format == "csv":
        body = _csv(batches, list(metric_types))
    elif format == "json":
        body = _json(batches)
    else:
        body = _parquet(batches, metric_types)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", run.id) + f"-episodes.{format}"
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
