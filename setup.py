"""Builds the dashboard into the package when it is not built yet, so that a wheel or an
install from a fresh clone (``pip install .``) serves it at ``/``. Everything else about the
package is in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
BUILT = ROOT / "src" / "rltrack" / "web" / "index.html"


class BuildPyWithDashboard(build_py):
    def run(self) -> None:
        if not BUILT.is_file() and (WEB / "package.json").is_file():
            if shutil.which("npm") is None:
                sys.stderr.write(
                    "warning: the dashboard is not built and npm is not installed: this build "
                    "serves the API only (install Node.js 20.19+ and build again)\n"
                )
            else:
                if not (WEB / "node_modules").is_dir():
                    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
                subprocess.run(["npm", "run", "build"], cwd=WEB, check=True)
        super().run()


setup(cmdclass={"build_py": BuildPyWithDashboard})
