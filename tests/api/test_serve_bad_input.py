"""`rltrack serve` refuses a database URL that can never work, before it binds a port."""

from __future__ import annotations

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
