"""A real platform server for tests that need several processes: gunicorn on a free port, on a database of
the test's own, stopped (or killed) by the test."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app import ROOT

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """`with LiveServer(url) as server:` serves the platform from `url` at `server.base` with gunicorn."""

    def __init__(self, database_url: str, *, workers: int = 2, threads: int = 8) -> None:
        self.port = free_port()
        self.command = [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            "wsgi:app",
        ]
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "SECRET_KEY": "live-test",
        }
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiveServer":
        self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn, our own arguments
            self.command, cwd=ROOT, env=self.env, start_new_session=True
        )
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=1)  # noqa: S310 - our own server
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the live server did not start")

    def worker_pids(self) -> list[int]:
        """The gunicorn master's children (its workers), read from /proc."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while we looked
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def __exit__(self, *_exc) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
