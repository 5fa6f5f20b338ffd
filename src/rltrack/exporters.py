"""A run's episodes or trades as CSV, JSON or Parquet: the API's export download and
``rltrack export`` write the same bytes through :func:`export`.

Streamed: rows are read in keyset batches of :data:`BATCH` and written out batch by batch, so
memory does not grow with the run. Parquet is written batch by batch (one row group each) to a
spooled temporary file, then read out in chunks.

* ``episodes``: one row per episode, by index. CSV and Parquet flatten the episode metrics into
  ``metric.<name>`` columns (typed from the JSON types of their values); JSON is an array of
  episodes as the API's episode pages give them.
* ``trades``: one row per trade, by episode index and then in the order the trades were made,
  with the episode's index and id beside the trade's own columns.

Non-finite numbers are empty (CSV) or null (JSON, Parquet).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from rltrack.tracking.entities import Episode, RunTrade, finite_json
from rltrack.tracking.store import Store

BATCH = 5000
CHUNK = 1 << 20
SPOOL_IN_MEMORY = 16 << 20  # bytes of Parquet kept in memory before spilling to disk
METRIC_PREFIX = "metric."
FORMATS = ("csv", "json", "parquet")
TABLES = ("episodes", "trades")
Format = Literal["csv", "json", "parquet"]
TableName = Literal["episodes", "trades"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}

# The columns of CSV and Parquet, in order, with their Parquet types.
EPISODE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "int64"), ("index", "int64"), ("run_id", "string"), ("env_slot", "int64"),
    ("agent_id", "string"), ("status", "string"), ("start_time", "timestamp"),
    ("end_time", "timestamp"), ("start_timestep", "int64"), ("end_timestep", "int64"),
    ("steps", "int64"), ("total_reward", "float64"), ("win", "float64"),
    ("epsilon", "float64"), ("drain_steps", "int64"),
)  # fmt: skip
TRADE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("episode_index", "int64"), ("episode_id", "int64"), ("seq", "int64"),
    ("direction", "string"), ("entry_step", "int64"), ("exit_step", "int64"),
    ("entry_time", "timestamp"), ("exit_time", "timestamp"), ("entry_price", "float64"),
    ("exit_price", "float64"), ("quantity", "float64"), ("pnl", "float64"),
    ("costs", "float64"),
)  # fmt: skip


def _iso(value: dt.datetime | None) -> str | None:
    """A time as the API writes it: ISO 8601, ``Z`` for UTC."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def episode_row(e: Episode) -> dict[str, Any]:
    return {
        "id": e.id, "index": e.index, "run_id": e.run_id, "env_slot": e.env_slot,
        "agent_id": e.agent_id, "status": e.status, "start_time": e.start_time,
        "end_time": e.end_time, "start_timestep": e.start_timestep,
        "end_timestep": e.end_timestep, "steps": e.steps, "total_reward": e.total_reward,
        "win": e.win, "epsilon": e.epsilon, "drain_steps": e.drain_steps,
    }  # fmt: skip


def trade_row(rt: RunTrade) -> dict[str, Any]:
    t = rt.trade
    return {
        "episode_index": rt.episode_index, "episode_id": t.episode_id, "seq": rt.seq,
        "direction": t.direction, "entry_step": t.entry_step, "exit_step": t.exit_step,
        "entry_time": t.entry_time, "exit_time": t.exit_time, "entry_price": t.entry_price,
        "exit_price": t.exit_price, "quantity": t.quantity, "pnl": t.pnl, "costs": t.costs,
    }  # fmt: skip


def _float(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def episode_json(e: Episode) -> dict[str, Any]:
    """An episode as the API's episode pages give it (``EpisodePublic``, its keys in order)."""
    return {
        "id": e.id, "index": e.index, "run_id": e.run_id, "env_slot": e.env_slot,
        "agent_id": e.agent_id, "status": e.status, "start_time": _iso(e.start_time),
        "end_time": _iso(e.end_time), "start_timestep": e.start_timestep,
        "end_timestep": e.end_timestep, "total_reward": _float(e.total_reward),
        "win": _float(e.win), "epsilon": _float(e.epsilon), "drain_steps": e.drain_steps,
        "metrics": finite_json(e.metrics), "steps": e.steps,
    }  # fmt: skip


def _trade_json(rt: RunTrade) -> dict[str, Any]:
    item = finite_json(trade_row(rt))
    item["entry_time"], item["exit_time"] = _iso(rt.trade.entry_time), _iso(rt.trade.exit_time)
    return dict(item)


@dataclass(frozen=True)
class _Table:
    columns: tuple[tuple[str, str], ...]
    row: Callable[[Any], dict[str, Any]]
    json_item: Callable[[Any], dict[str, Any]]
    metrics: bool  # whether records carry a ``metrics`` dict to flatten


_TABLES: dict[str, _Table] = {
    "episodes": _Table(EPISODE_COLUMNS, episode_row, episode_json, metrics=True),
    "trades": _Table(TRADE_COLUMNS, trade_row, _trade_json, metrics=False),
}


def _batches(
    first: list[Any], following: Callable[[Any], list[Any]], size: int
) -> Iterator[list[Any]]:
    """``first``, then ``following(last record)`` until a batch comes back short of ``size``."""
    batch = first
    while batch:
        yield batch
        if len(batch) < size:
            return
        batch = following(batch[-1])


def episode_batches(store: Store, run_id: str, size: int | None = None) -> Iterator[list[Episode]]:
    """The run's episodes by index, ``size`` (default :data:`BATCH`) at a time; the first batch
    is read before this returns."""
    n = size or BATCH
    return _batches(
        store.episodes_after(run_id, None, n),
        lambda last: store.episodes_after(run_id, last.index, n),
        n,
    )


def trade_batches(store: Store, run_id: str) -> Iterator[list[RunTrade]]:
    """The run's trades by episode index and order made, :data:`BATCH` at a time."""
    return _batches(
        store.trades_after(run_id, None, BATCH),
        lambda last: store.trades_after(run_id, (last.episode_index, last.seq), BATCH),
        BATCH,
    )


def export(
    store: Store, run_id: str, table: TableName, fmt: Format
) -> Iterator[str] | Iterator[bytes]:
    """The run's ``table`` in ``fmt``, as chunks of text (CSV, JSON) or bytes (Parquet).

    The first batch and the metric types are read before this returns, so a database that does
    not answer raises here (:class:`~rltrack.tracking.store.UnavailableError`), not half way
    through a download."""
    spec = _TABLES[table]
    batches: Iterator[list[Any]]
    if table == "episodes":
        metric_types = store.episode_metric_types(run_id) if fmt != "json" else {}
        batches = episode_batches(store, run_id)
    else:
        metric_types = {}
        batches = trade_batches(store, run_id)
    if fmt == "csv":
        return _csv(batches, spec, list(metric_types))
    if fmt == "json":
        return _json(batches, spec)
    return _parquet(batches, spec, metric_types)


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


def _csv(batches: Iterator[list[Any]], spec: _Table, keys: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _ in spec.columns] + [METRIC_PREFIX + k for k in keys])
    for batch in batches:
        for record in batch:
            row = spec.row(record)
            metrics = record.metrics if spec.metrics else {}
            writer.writerow(
                [_csv_cell(row[name]) for name, _ in spec.columns]
                + [_csv_cell(metrics.get(k)) for k in keys]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json(batches: Iterator[list[Any]], spec: _Table) -> Iterator[str]:
    yield "["
    sep = "\n"
    for batch in batches:
        parts = []
        for record in batch:
            parts.append(sep + json.dumps(spec.json_item(record), allow_nan=False))
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
    batches: Iterator[list[Any]], spec: _Table, metric_types: dict[str, set[str]]
) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "int64": pa.int64(), "float64": pa.float64(), "string": pa.string(),
        "bool": pa.bool_(), "timestamp": pa.timestamp("us", tz="UTC"),
    }  # fmt: skip
    metric_cols = {k: _metric_type(v) for k, v in metric_types.items()}
    schema = pa.schema(
        [pa.field(name, types[t]) for name, t in spec.columns]
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
                rows = [spec.row(r) for r in batch]
                columns: dict[str, list[Any]] = {
                    name: [cell(r[name], t) for r in rows] for name, t in spec.columns
                }
                for k, t in metric_cols.items():
                    columns[METRIC_PREFIX + k] = [cell(r.metrics.get(k), t) for r in batch]
                writer.write_table(pa.Table.from_pydict(columns, schema=schema))
        out.seek(0)
        while chunk := out.read(CHUNK):
            yield chunk
