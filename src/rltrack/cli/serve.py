"""`rltrack serve`: the API and the dashboard on uvicorn, after checking the address is free."""

from __future__ import annotations

from typing import Annotated

import typer

from rltrack import settings
from rltrack.cli.common import (
    DbOpt,
    app,
    fail,
    out,
)


# -- serve ----------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; 0.0.0.0 exposes the API to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    db: DbOpt = None,
) -> None:
    """Serve the read-only REST API (and its OpenAPI docs at /docs)."""
    import uvicorn

    from rltrack.api import create_app
    from rltrack.api.app import GRACEFUL_SHUTDOWN_S
    from rltrack.tracking.sql import engine as eng
    from rltrack.tracking.store import StoreError

    url = settings.database_url(db)
    # A URL that can never work is a usage error now, not a 503 on every request later; a
    # server that is merely down is fine (the API answers 503 until it is back).
    try:
        if eng.is_sqlite(eng.normalize_url(url)):
            eng.check_sqlite_location(eng.normalize_url(url))
        eng.make_engine(url).dispose()
    except StoreError as exc:
        fail(str(exc))
    _check_listen(host, port)
    out.print(
        f"serving {eng.safe_url(eng.normalize_url(url))} on http://{host}:{port}", highlight=False
    )
    uvicorn.run(
        create_app(url, freeze_gc=True), host=host, port=port, log_level="info",
        # Live event streams never end by themselves: cut them off at shutdown.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )  # fmt: skip


def _check_listen(host: str, port: int) -> None:
    """Exit 2 naming the problem when ``serve`` could not listen at host:port (a port already
    taken, an address this machine does not have), rather than uvicorn's log lines and exit 3.
    Binds the way uvicorn will (SO_REUSEADDR), then lets go."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        fail(f"--host {host!r}: {exc.strerror}; give an address such as 127.0.0.1 or 0.0.0.0")
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(
                    f"port {port} on {host} is in use (another rltrack serve?); stop it or pass "
                    "--port with a free one"
                )
            fail(f"cannot listen on {host}:{port}: {exc.strerror}; pass another --host or --port")
