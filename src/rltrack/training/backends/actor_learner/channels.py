"""One-way message channels between the main process, the actors and the learners.

As processes they are OS pipes (``multiprocessing.Pipe(duplex=False)``): a write is
synchronous (no feeder thread that could hang a process at exit), and when the process at the
other end dies its copy of the pipe closes, so the reader gets ``EOFError`` and the writer
``BrokenPipeError`` instead of waiting forever. Run serially in one process they are
in-memory queues with the same ``send``/``recv``/``poll``/``close`` calls.
"""

from __future__ import annotations

from collections import deque
from multiprocessing import connection
from multiprocessing.context import SpawnContext
from typing import Any, Protocol


class Reader(Protocol):
    def recv(self) -> Any: ...

    def poll(self, timeout: float | None = 0.0) -> bool: ...

    def close(self) -> None: ...


class Writer(Protocol):
    def send(self, obj: Any) -> None: ...

    def close(self) -> None: ...


class _LocalState:
    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.closed = False


class LocalReader:
    """The reading end of an in-process channel. It never blocks: serial mode has one thread."""

    def __init__(self, state: _LocalState) -> None:
        self._state = state

    def recv(self) -> Any:
        if self._state.items:
            return self._state.items.popleft()
        if self._state.closed:
            raise EOFError("the writing end is closed")
        raise RuntimeError("nothing to read: poll() first (serial mode never waits)")

    def poll(self, timeout: float | None = 0.0) -> bool:
        return bool(self._state.items) or self._state.closed

    def close(self) -> None:
        self._state.items.clear()


class LocalWriter:
    def __init__(self, state: _LocalState) -> None:
        self._state = state

    def send(self, obj: Any) -> None:
        if self._state.closed:
            raise BrokenPipeError("the channel is closed")
        self._state.items.append(obj)

    def close(self) -> None:
        self._state.closed = True


def local_pipe() -> tuple[LocalReader, LocalWriter]:
    state = _LocalState()
    return LocalReader(state), LocalWriter(state)


def process_pipe(ctx: SpawnContext) -> tuple[connection.Connection, connection.Connection]:
    reader, writer = ctx.Pipe(duplex=False)
    return reader, writer


def ready(readers: list[Reader], timeout: float) -> list[Reader]:
    """The readers with something to read (or closed at the other end), waiting at most
    ``timeout`` seconds for pipes; in-process readers are only polled."""
    if not readers:
        return []
    if all(isinstance(r, connection.Connection) for r in readers):
        return list(connection.wait(readers, timeout))  # type: ignore[arg-type]
    return [r for r in readers if r.poll(0)]


def drain_reader(reader: Reader, limit: int) -> tuple[list[Any], bool]:
    """Up to ``limit`` messages already waiting in ``reader``, and whether its other end is
    closed (EOF, or a message cut short by a writer that died mid-write)."""
    out: list[Any] = []
    while len(out) < limit:
        try:
            if not reader.poll(0):
                return out, False
            out.append(reader.recv())
        except (EOFError, OSError):
            return out, True
    return out, False
