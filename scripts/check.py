"""Every check `make test` runs, in order, with a summary that says plainly what ran and what was skipped.

    lint and format (ruff) · import layers (import-linter) · migrations match the models (alembic check)
    · the suite on SQLite · the suite on PostgreSQL · the browser tests in headless Chromium

PostgreSQL comes from TEST_DATABASE_URL (default: the local server), Chromium from CHROMIUM (default
/usr/bin/chromium). Without them those runs are skipped and the summary says so; with REQUIRE_POSTGRES=1 or
REQUIRE_BROWSER=1 such a skip fails the check instead.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql://root@127.0.0.1:5432/test"


def run(label: str, *command: str, env: dict | None = None) -> bool:
    print(f"\n==> {label}: {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})}).returncode == 0


def postgres_reachable(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def chromium() -> str | None:
    candidate = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    return candidate if Path(candidate).exists() else shutil.which("chromium")


def main() -> int:
    results: list[tuple[str, str]] = []

    def step(label: str, *command: str, env: dict | None = None) -> None:
        results.append((label, "passed" if run(label, *command, env=env) else "FAILED"))

    def skipped(label: str, why: str, required_by: str) -> None:
        if os.environ.get(required_by) == "1":
            results.append((label, f"FAILED: skipped, but {required_by}=1 ({why})"))
        else:
            results.append((label, f"SKIPPED: {why}"))
            print(f"\n==> {label}: SKIPPED, {why}", flush=True)

    step("ruff lint", str(BIN / "ruff"), "check", ".")
    step("ruff format", str(BIN / "ruff"), "format", "--check", ".")
    step("import layers", str(BIN / "lint-imports"))
    with tempfile.TemporaryDirectory() as scratch:
        env = {"DATABASE_URL": f"sqlite:///{scratch}/check.db"}
        ok = run("migrate a fresh database", str(BIN / "alembic"), "upgrade", "head", env=env)
        results.append(
            (
                "migrations match the models",
                "passed"
                if ok and run("migrations match the models", str(BIN / "alembic"), "check", env=env)
                else "FAILED",
            )
        )
    step("suite on SQLite", str(BIN / "pytest"), "-m", "not browser", "-q")

    postgres = os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES
    if postgres_reachable(postgres):
        step(
            "suite on PostgreSQL",
            str(BIN / "pytest"),
            "-m",
            "not browser",
            "-q",
            env={"TEST_DATABASE_URL": postgres},
        )
    else:
        skipped(
            "suite on PostgreSQL",
            f"no PostgreSQL answers at {postgres} (set TEST_DATABASE_URL)",
            "REQUIRE_POSTGRES",
        )

    browser = chromium()
    if browser:
        step("browser tests", str(BIN / "pytest"), "-m", "browser", "-q", env={"CHROMIUM": browser})
    else:
        skipped(
            "browser tests",
            "no Chromium found (install Debian's chromium, or set CHROMIUM)",
            "REQUIRE_BROWSER",
        )

    print("\n==> summary")
    for label, outcome in results:
        print(f"  {label:32} {outcome}")
    return 1 if any(outcome.startswith("FAILED") for _label, outcome in results) else 0


if __name__ == "__main__":
    sys.exit(main())
