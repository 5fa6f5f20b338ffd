"""Several `rltrack train` processes, one after another or K at a time: the seeds of a group
(``rltrack train --seeds 0-4 --parallel K``).

Each child is the real command, so each run is recorded exactly as a single run is (drain,
signals, spool, heartbeat). The parent relays the children's lines with a label, forwards
SIGINT and SIGTERM to the children that run (they drain and end ``stopped``), starts no new
child after a signal, and exits with the first failing child's code (130 or 143 after a
signal, as a single run would).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import IO


@dataclass
class Child:
    label: str
    argv: list[str]
    run_id: str | None = None
    code: int | None = None
    proc: subprocess.Popen[str] | None = field(default=None, repr=False)


Relay = Callable[[Child, str, bool], None]  # (child, line, from stderr)


def train_argv(args: Sequence[str]) -> list[str]:
    """The command line of an `rltrack train` child with ``args``."""
    return [sys.executable, "-m", "rltrack.cli", "train", *args]


_Line = tuple[Child, str | None, bool]  # None: the stream closed


def _pump(child: Child, stream: IO[str], is_err: bool, lines: queue.Queue[_Line]) -> None:
    for line in stream:
        lines.put((child, line.rstrip("\n"), is_err))
    lines.put((child, None, is_err))


def run_children(children: Sequence[Child], parallel: int, relay: Relay) -> int | None:
    """Run ``children`` at most ``parallel`` at a time; returns the signal received (SIGINT or
    SIGTERM) or None. Each child's exit code is left in ``child.code`` (None: not started)."""
    waiting = list(children)
    running: list[Child] = []
    lines: queue.Queue[_Line] = queue.Queue()
    open_streams: dict[int, int] = {}
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
        for c in running:
            if c.proc is not None and c.proc.poll() is None:
                c.proc.send_signal(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while waiting or running:
            while waiting and len(running) < parallel and not received:
                child = waiting.pop(0)
                child.proc = subprocess.Popen(
                    child.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    bufsize=1, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    start_new_session=True,  # signals reach it from this process only
                )  # fmt: skip
                running.append(child)
                open_streams[id(child)] = 2
                for stream, is_err in ((child.proc.stdout, False), (child.proc.stderr, True)):
                    assert stream is not None
                    threading.Thread(
                        target=_pump, args=(child, stream, is_err, lines), daemon=True
                    ).start()
            if received and not running:
                break
            try:
                item = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            child, line, is_err = item
            if line is None:
                open_streams[id(child)] -= 1
                if open_streams[id(child)] == 0:
                    assert child.proc is not None
                    child.code = child.proc.wait()
                    running.remove(child)
                continue
            if child.run_id is None and line.startswith("run_id: "):
                child.run_id = line.split(": ", 1)[1].strip()
            relay(child, line, is_err)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return received[0] if received else None
