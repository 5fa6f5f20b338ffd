"""`rltrack serve` refuses a database URL that can never work, before it binds a port."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import Cli


@pytest.mark.parametrize(
    ("url", "needle"),
    [("nonsense://x", "unsupported database"), ("sqlite:////proc/no/x.db", "/proc/no")],
)
def test_serve_refuses_unusable_database_url(cli: Cli, url: str, needle: str) -> None:
    result = cli("serve", "--db", url, timeout=60)
    assert result.code == 2
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_serve_refuses_a_port_that_is_taken(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), timeout=60)
    assert result.code == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "Traceback" not in result.stderr and "serving" not in result.stdout


def test_serve_refuses_an_address_it_cannot_resolve(cli: Cli) -> None:
    result = cli("serve", "--host", "no-such-host.invalid", timeout=60)
    assert result.code == 2 and "--host 'no-such-host.invalid'" in result.stderr
