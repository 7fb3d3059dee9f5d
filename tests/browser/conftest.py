"""A real browser (Debian's Chromium, driven by Playwright) against a served app.

The app is served by werkzeug in a thread on a free port, on the test database; one
browser and one page serve the whole session. Screenshots of the main pages are kept in
``test-artifacts/`` (git-ignored). Without ``/usr/bin/chromium`` these tests are skipped;
CI installs it, so there they run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from connector import create_app
from connector.context import of
from connector.db import Database
from tests.factories import ADMIN_KEY, ADMIN_TOKEN
from tests.server import free_port
from tests.web.conftest import staff  # noqa: F401 (a fixture)

CHROMIUM = os.environ.get("CONNECTOR_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    browser_items = [item for item in items if "tests/browser/" in str(item.fspath)]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    # In CI (CI=true) the browser is installed by .ci/run: a missing one is a failure there.
    if Path(CHROMIUM).exists() or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is absent: apt-get install chromium")
    for item in browser_items:
        item.add_marker(skip)


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server: BaseWSGIServer = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    app = create_app(
        {
            "database_url": database.url,
            "instance_path": tmp_path_factory.mktemp("browser") / "instance",
            "secret_key": "browser-secret-key-" + "x" * 32,
            "scheduler_enabled": False,
            "app_key": ADMIN_KEY,
            "app_token": ADMIN_TOKEN,
        }
    )
    server = LiveServer(app)
    yield server
    server.stop()
    of(app).db.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def _shared_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page(_shared_page: Any, db: Database) -> Iterator[Any]:
    """The session's page, with a fresh cookie jar: each test starts signed out."""
    _shared_page.context.clear_cookies()
    yield _shared_page
    _shared_page.unroute("**/*")


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


WIDTHS = (360, 1280)


def screenshots(page: Any, name: str) -> list[Path]:
    """The current page at a phone's width and a desktop's (``{name}-360.png``, ...).

    Issue 16 asks for both widths of every workflow, in es and pt: the caller names the
    language in ``name`` and opens the page in it. The viewport is restored afterwards.
    """
    restore = page.viewport_size
    paths = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        paths.append(screenshot(page, f"{name}-{width}"))
    page.set_viewport_size(restore)
    return paths
