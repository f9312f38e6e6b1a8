"""The command that serves the platform: granian running the WSGI app, as `make run`, the benchmarks and the
tests that need real processes start it (docs/deploy.md has the production line)."""

import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def granian(
    app: str, *, port: int, workers: int, threads: int, stop_seconds: int, more: tuple = ()
) -> list[str]:
    """`threads` per worker: each open live event stream holds one. Streams never end by themselves, so a
    stop waits `stop_seconds` for them; a worker that dies is replaced."""
    return [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        str(stop_seconds),
        *more,
        app,
    ]
