"""A wheel built from the checkout is a working rltrack: it holds the built dashboard and the
migrations, and installed into an empty venv it upgrades a database, trains and serves the
dashboard at / (the dependencies come from this venv's site-packages, rltrack from the wheel)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx

from rltrack.testing.postgres import free_port
from rltrack.tracking.sql.engine import HEAD_REVISION
from tests.conftest import REPO

# What a build reads from the checkout; the rest (venvs, node_modules, caches) stays out.
SKIP = shutil.ignore_patterns(
    ".git", ".venv*", "node_modules", "test-output", "rltrack-data", "build", "dist",
    "__pycache__", ".*_cache", "*.egg-info", "bench", "tests",
)  # fmt: skip


def build_wheel(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(REPO, tree, ignore=SKIP)
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(tree)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = out.glob("rltrack-*.whl")
    return wheel


def test_the_wheel_holds_the_dashboard_and_migrations_and_runs(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "rltrack/web/index.html" in names
    assert any(n.startswith("rltrack/web/assets/") and n.endswith(".js") for n in names)
    migrations = REPO / "src/rltrack/tracking/sql/migrations"
    for path in [
        migrations / "env.py",
        migrations / "script.py.mako",
        *sorted((migrations / "versions").glob("0*.py")),
    ]:
        assert f"rltrack/{path.relative_to(REPO / 'src/rltrack').as_posix()}" in names, path

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # The dependencies, not the checkout's editable rltrack (a path line adds no .pth files).
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", purelib,
         str(wheel)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "RLTRACK_"))}
    env.update(RLTRACK_HOME=str(work / "home"), COLUMNS="200")

    def rltrack(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(py), "-m", "rltrack.cli", *args], cwd=work, env=env, capture_output=True,
            text=True, timeout=240,
        )  # fmt: skip

    where = subprocess.run(
        [str(py), "-c", "import rltrack; print(rltrack.__file__)"], cwd=work, env=env,
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert where.startswith(purelib), where
    upgraded = rltrack("db", "upgrade")
    assert upgraded.returncode == 0 and HEAD_REVISION in upgraded.stdout, upgraded.stderr
    trained = rltrack("train", "--mode", "smoke", "--total-timesteps", "256", "--no-progress")
    assert trained.returncode == 0, trained.stderr
    assert "completed" in trained.stdout

    port = free_port()
    server = subprocess.Popen(
        [str(py), "-m", "rltrack.cli", "serve", "--port", str(port)], cwd=work, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "rltrack serve did not answer"
                time.sleep(0.2)
        assert page.status_code == 200 and '<div id="root">' in page.text
        runs = httpx.get(f"http://127.0.0.1:{port}/api/training-runs", timeout=10).json()
        assert len(runs) == 1 and runs[0]["status"] == "completed"
    finally:
        server.terminate()
        server.wait(timeout=30)
