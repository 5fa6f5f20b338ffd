"""``rltrack serve`` in a child process, for the benchmarks of the API and the dashboard: the
client then does not share the server's GIL."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from rltrack.testing.postgres import free_port


class Server:
    """``rltrack serve`` in a child process on a free loopback port."""

    def __init__(self, url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("rltrack")
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--db", url, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/api/health", timeout=5)
                return
            except httpx.TransportError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"rltrack serve did not start:\n{err}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
