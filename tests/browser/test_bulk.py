"""Bulk in a real browser: the seeds' "Escoger archivo", then the import page refreshing
itself until the scheduler has run the import."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from connector.bulk.runner import run_queued_imports
from connector.db import Database
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_admin import nav, sign_in

# The header names the units; the example row under it is skipped by the import.
TEMPLATE = (
    b"\xef\xbb\xbfEmail,Document,Document Type,Credit limit (R$),Tolerance (fraction or %),"
    b"Company name\r\n"
    b"example@example.com,00000000000,Other,1500.00,10%,Example Ltd.\r\n"
)


@contextmanager
def import_worker(db: Database, every: float = 0.5) -> Iterator[None]:
    """The scheduler's import job, in a thread (the served app runs no scheduler)."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        while not stop.is_set():
            try:
                run_queued_imports(db)
            except BaseException as exc:  # reported by the test, not lost in the thread
                failures.append(exc)
                return
            stop.wait(every)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not failures, failures


def test_import_a_csv_and_watch_it_finish(
    page: Any, live_server: LiveServer, staff: str, db: Database
) -> None:
    sign_in(page, live_server)
    nav(page, "Bulk").click()
    expect(page.get_by_role("heading", name="Bulk import and export")).to_be_visible()

    # Download the accounts template, in English: another language's is one click further.
    page.get_by_text("Templates in another language").click()
    page.get_by_label("Language of the column names").select_option("en")
    with page.expect_download() as template_download:
        page.get_by_role("button", name="Accounts template").click()
    template = template_download.value
    assert template.suggested_filename == "accounts-template-en.csv"
    header = Path(template.path()).read_bytes()
    assert header == TEMPLATE

    # Fill it with three accounts, one of them with a bad e-mail, and choose the file.
    filled = header + (
        b"ana@shop.example,111.444.777-35,CPF,1500.00,0.05\r\n"
        b"not-an-email,529.982.247-25,CPF,10,0\r\n"
        b"bob@shop.example,,,250,\r\n"
    )
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "accounts.csv", "mimeType": "text/csv", "buffer": filled}]
    )
    page.get_by_label("Accounts", exact=True).check()
    page.get_by_label("Create new accounts").check()
    dry_run = page.get_by_label("Dry run: check without saving")
    dry_run.focus()
    page.keyboard.press("Space")  # the form works from the keyboard
    expect(dry_run).to_be_checked()
    page.keyboard.press("Space")
    expect(dry_run).not_to_be_checked()
    screenshot(page, "14-bulk")
    page.get_by_role("button", name="Upload", exact=True).focus()
    page.keyboard.press("Enter")

    # Queued: the page refreshes itself (no script) until the import has ended.
    expect(page.get_by_text("File uploaded: its import is queued.")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("Queued")
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(1)
    with import_worker(db):
        expect(page.locator("h1 .badge")).to_have_text("Completed", timeout=30_000)
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
    expect(page.locator("#progress-text")).to_contain_text("3 of 3 rows (100 %)")
    expect(page.locator("[data-count=created] dd")).to_have_text("2")
    expect(page.locator("[data-count=failed] dd")).to_have_text("1")
    expect(page.get_by_role("cell", name="not-an-email")).to_be_visible()
    screenshot(page, "15-import-completed")

    with page.expect_download() as report_download:
        page.get_by_role("link", name="Download the error report (CSV)").click()
    report = Path(report_download.value.path()).read_text(encoding="utf-8-sig")
    assert report.splitlines()[0] == "Row,Column,Value,Code,Reason"
    # Row 4: the header is row 1 and the template's example (skipped) row 2.
    assert report.splitlines()[1].startswith("4,Email,not-an-email,invalid_email,")

    # The accounts exist, and the history lists the import.
    nav(page, "Accounts").click()
    expect(page.get_by_role("link", name="ana@shop.example")).to_be_visible()
    expect(page.get_by_role("link", name="bob@shop.example")).to_be_visible()
    nav(page, "Bulk").click()
    history = page.get_by_role("table", name="Import history")
    expect(history.get_by_role("link", name="accounts.csv")).to_be_visible()
    expect(history.locator("tbody tr")).to_have_count(1)
    screenshot(page, "16-bulk-history")
