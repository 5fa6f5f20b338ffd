"""The tested dependency set: constraints.txt pins what the suite runs with."""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"


def pins() -> dict[str, str]:
    out = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
            assert match, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            out[canonicalize_name(match[1])] = match[2]
    return out


def test_the_lock_names_the_training_stack() -> None:
    locked = pins()
    for name in ("stable-baselines3", "sb3-contrib", "gymnasium", "torch"):
        assert name in locked, f"constraints.txt does not pin {name}"
    assert locked["torch"] == "2.13.0"  # the CPU build on the machines' disk


def test_the_suite_runs_on_the_locked_versions() -> None:
    """What is installed is what the lock says (`make lock` runs the suite on new versions
    before it writes them, with RLTRACK_LOCKING set)."""
    if os.environ.get("RLTRACK_LOCKING"):
        return
    differ = []
    for name, version in pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            differ.append(f"{name} not installed (locked {version})")
            continue
        if Version(installed).public != Version(version).public:
            differ.append(f"{name} {installed} (locked {version})")
    assert not differ, "installed versions differ from constraints.txt: " + ", ".join(differ)
