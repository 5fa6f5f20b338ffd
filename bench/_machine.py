"""Helpers for benchmarks on a small shared machine: wait for it to be idle, and tell how much
CPU other processes took during a measurement (Linux /proc/stat; elsewhere a no-op), describe
the machine, and write a benchmark's JSON report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
CPUS = os.cpu_count() or 1


def _busy_s() -> float | None:
    """CPU seconds all processes have been busy since boot, or None without /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    values = [int(v) for v in fields[1:9]]
    return (sum(values) - values[3] - values[4]) * TICK_S


def _own_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def wait_until_idle(
    max_wait_s: float = 120.0, busy_below: float = 0.15, window_s: float = 1.0
) -> float:
    """Wait until the machine's other processes use less than ``busy_below`` of its CPUs over
    ``window_s``; at most ``max_wait_s``. Returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < max_wait_s:
        busy, own = _busy_s(), _own_s()
        if busy is None:
            return 0.0
        time.sleep(window_s)
        after = _busy_s()
        assert after is not None
        foreign = (after - busy) - (_own_s() - own)
        if foreign / (window_s * CPUS) < busy_below:
            break
    return time.monotonic() - start


@dataclass
class Foreign:
    """CPU seconds that processes other than this one (and its children) used."""

    cpu_s: float | None = None
    wall_s: float = 0.0

    @property
    def cores(self) -> float | None:
        """Average number of cores the other processes kept busy."""
        if self.cpu_s is None or self.wall_s <= 0:
            return None
        return max(0.0, self.cpu_s / self.wall_s)


@contextmanager
def foreign_cpu() -> Iterator[Foreign]:
    out = Foreign()
    busy, own, t = _busy_s(), _own_s(), time.perf_counter()
    try:
        yield out
    finally:
        out.wall_s = time.perf_counter() - t
        after = _busy_s()
        if busy is not None and after is not None:
            out.cpu_s = max(0.0, (after - busy) - (_own_s() - own))


def add_idle_wait_option(parser: argparse.ArgumentParser) -> None:
    """The benches' shared --idle-wait option (see :func:`wait_until_idle`)."""
    parser.add_argument(
        "--idle-wait",
        type=float,
        default=60.0,
        help="before each run, wait at most this many seconds for other processes to go idle",
    )


def cpu_model() -> str | None:
    """The processor's model name (Linux /proc/cpuinfo; else what platform says, if anything).
    The same 2-vCPU machine type has run on different hosts, and results move with them."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine(**extra: object) -> dict[str, object]:
    """What every bench's JSON says about the machine it ran on, plus ``extra`` (versions,
    threads, the load of other processes)."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpus": CPUS,
        **extra,
    }


def write_report(out: Path, benchmark: str, body: dict[str, Any], console: Any) -> None:
    """Write a benchmark's results to ``out`` as JSON: its name and when it ran first, then
    ``body``; and say where it went."""
    report = {
        "benchmark": benchmark,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **body,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".tmp")  # a stopped run leaves the last report whole
    part.write_text(json.dumps(report, indent=2) + "\n")
    part.replace(out)
    console.print(f"wrote {out}", highlight=False)
