"""The local spool: events that could not reach the database, kept in order on disk.

One append-only JSON-lines file per run folder (``spool.jsonl``), one line per batch. A
sidecar (``spool.offset``) remembers how many bytes have been replayed, so a replay that is
interrupted resumes where it stopped; writes are idempotent, so a batch replayed twice after a
crash between the write and the offset update still lands once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rltrack.jsonable import json_default
from rltrack.tracking.store import Store
from rltrack.training.events import (
    EpisodeEnded,
    Event,
    RunStarted,
    StepRecord,
    TradeRecord,
)

SPOOL_NAME = "spool.jsonl"
OFFSET_NAME = "spool.offset"
META_NAME = "spool.meta.json"  # which database the spooled events belong to

# Every event type, from the Event union itself: a new event cannot be forgotten here.
_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(Event)}
# Fields holding a datetime, of any event or trade (annotations are strings: PEP 563).
_TIME_FIELDS = {
    f.name
    for cls in (*_TYPES.values(), TradeRecord)
    for f in dataclasses.fields(cls)
    if "datetime" in str(f.type)
}


class SpoolError(OSError):
    """The spool location cannot be written: refusing to train rather than lose records."""


def _encode(obj: Any) -> Any:
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    if isinstance(obj, tuple | list):
        return [_encode(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    return obj


def encode_event(event: Event) -> dict[str, Any]:
    return {"type": type(event).__name__, "data": _encode(event)}


def _time(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _trade(raw: dict[str, Any]) -> TradeRecord:
    fields: dict[str, Any] = {k: (_time(v) if k in _TIME_FIELDS else v) for k, v in raw.items()}
    return TradeRecord(**fields)


def decode_event(raw: dict[str, Any]) -> Event:
    cls = _TYPES[raw["type"]]
    data = dict(raw["data"])
    for key in _TIME_FIELDS & data.keys():
        data[key] = _time(data[key])
    if cls is EpisodeEnded:
        data["trades"] = tuple(_trade(t) for t in data.get("trades", ()))
        data["trace"] = tuple(StepRecord(**s) for s in data.get("trace", ()))
    if cls is RunStarted:
        data["tags"] = tuple(data.get("tags", ()))
    event: Event = cls(**data)
    return event


class Spool:
    def __init__(self, folder: Path, db_url: str | None = None) -> None:
        self.folder = folder
        self.db_url = db_url
        self.path = folder / SPOOL_NAME
        self.offset_path = folder / OFFSET_NAME
        self.meta_path = folder / META_NAME

    @property
    def target_url(self) -> str | None:
        """The database the events were meant for (as given to the trainer)."""
        if self.db_url is not None:
            return self.db_url
        try:
            url = json.loads(self.meta_path.read_text())["db"]
        except (FileNotFoundError, KeyError, ValueError):
            return None
        return str(url)

    def check_writable(self) -> None:
        """Fail at start, not at the first outage, when the spool could not be written."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / ".spool-probe"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise SpoolError(
                f"the spool folder {self.folder} is not writable ({exc.strerror}); records "
                "could not be kept during a database outage. Set RLTRACK_HOME to a writable folder"
            ) from exc

    def append(self, events: Sequence[Event]) -> None:
        line = (
            json.dumps(
                [encode_event(e) for e in events], separators=(",", ":"), default=json_default
            )
            + "\n"
        )
        if self.db_url is not None and not self.meta_path.exists():
            self.meta_path.write_text(json.dumps({"db": self.db_url}))
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def pending(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > self._offset()

    def _offset(self) -> int:
        try:
            return int(self.offset_path.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _batches(self) -> Iterator[tuple[int, list[Event]]]:
        """(offset after the batch, events) for every batch not replayed yet."""
        with self.path.open("rb") as f:
            f.seek(self._offset())
            for line in f:
                if not line.endswith(b"\n"):
                    break  # a line cut off by a crash mid-write: it was never acknowledged
                events = [decode_event(r) for r in json.loads(line)]
                yield f.tell(), events

    def replay(self, store: Store) -> int:
        """Write every pending batch to ``store``, in order. Returns the events written.
        Raises the store's UnavailableError when the database goes away again midway."""
        if not self.path.exists():
            return 0
        written = 0
        for offset, events in self._batches():
            store.write(events)
            written += len(events)
            tmp = self.offset_path.with_name(OFFSET_NAME + ".tmp")
            tmp.write_text(str(offset))
            os.replace(tmp, self.offset_path)
        self.clear()
        return written

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self.offset_path.unlink(missing_ok=True)
        self.meta_path.unlink(missing_ok=True)


def find_spools(home: Path) -> list[Path]:
    """Run folders under ``home`` that hold events not yet in the database."""
    runs = home / "runs"
    if not runs.exists():
        return []
    return sorted(p.parent for p in runs.glob(f"*/{SPOOL_NAME}") if Spool(p.parent).pending())
