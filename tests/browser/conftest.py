"""A live server on a real port, with the demo data, and a headless Chromium (Debian's, never a download)."""

import os
import threading
from collections.abc import Iterator
from datetime import time

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import update
from werkzeug.serving import make_server

from app import create_app
from app.db import transaction
from app.demo.seed import seed_demo
from app.exchange.models import Instrument
from app.models import migrate
from config import TestConfig

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("live") / "agrilink.db"
    app = create_app(TestConfig, {"DATABASE_URL": f"sqlite:///{database}"})
    migrate(app.extensions["agrilink.db"])
    with app.app_context(), transaction() as session:
        seed_demo(session)
        # The demo's instruments keep Zunyi's hours (08:00-22:00 China time); the tests trade at any hour.
        session.execute(update(Instrument).values(opens_at=time.min, closes_at=time.max))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})  # a phone
    yield context.new_page()
    context.close()
