"""`make run`: the web server and the one scheduler process side by side, until Ctrl-C stops both."""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.demo.seed import DEMO_PASSWORD, demo_sign_ins  # noqa: E402 - needs the project root on the path
from scripts.web_server import granian  # noqa: E402

BIN = Path(sys.executable).parent


def banner(port: int) -> str:
    lines = [
        "",
        "  湄潭产销通 AgriLink is running",
        f"  Open  http://127.0.0.1:{port}/",
        f"  API   http://127.0.0.1:{port}/api/v1/docs",
        f"  Trace http://127.0.0.1:{port}/t/LF-CY-2026-01   (what a package's QR code opens)",
        f"  Tea exchange  http://127.0.0.1:{port}/exchange",
        f"  Surveillance  http://127.0.0.1:{port}/surveillance   (exchange officer and supervisor)",
        "",
        f"  Demo sign-ins (password {DEMO_PASSWORD} for all):",
        *(
            f"    {login:13}  {who:45} {organisation}"
            for who, login, organisation in demo_sign_ins()
        ),
        "",
        "  Ctrl-C stops the web server and the scheduler.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "64")))
    arguments = parser.parse_args()
    port, workers, threads = arguments.port, arguments.workers, arguments.threads
    env = {**os.environ, "FLASK_APP": "wsgi"}
    web = subprocess.Popen(
        granian(
            "wsgi:app",
            port=port,
            workers=workers,
            threads=threads,
            stop_seconds=5,
            more=("--access-log",),
        ),
        cwd=ROOT,
        env=env,
    )
    scheduler = subprocess.Popen([str(BIN / "flask"), "scheduler", "run"], cwd=ROOT, env=env)
    time.sleep(1.5)
    print(banner(port), flush=True)
    try:
        while web.poll() is None and scheduler.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in (web, scheduler):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (web, scheduler):
            process.wait(timeout=15)
    stopped_cleanly = (0, -signal.SIGTERM, -signal.SIGINT)
    failed = [
        name
        for name, process in (("web server", web), ("scheduler", scheduler))
        if process.returncode not in stopped_cleanly
    ]
    if failed:
        print(f"stopped: {', '.join(failed)} exited with an error", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
