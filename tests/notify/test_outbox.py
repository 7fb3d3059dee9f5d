"""The outbox: mails kept as rows, sent by SMTP when configured."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from connector.db import Database
from connector.notify.outbox import OutboxMail, SmtpTarget, deliver_pending, list_mails, queue_mail


class FakeSMTP:
    sent: list[EmailMessage] = []
    fail = False

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.address = (host, port)

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def starttls(self, context: Any) -> None:
        return None

    def login(self, user: str, password: str) -> None:
        assert (user, password) == ("mailer", "p@ss")

    def send_message(self, message: EmailMessage) -> None:
        if FakeSMTP.fail:
            raise smtplib.SMTPServerDisconnected("gone")
        FakeSMTP.sent.append(message)


def test_the_outbox_keeps_mails_and_sends_them_by_smtp_when_configured(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    FakeSMTP.sent = []
    with db.transaction() as session:
        queue_mail(session, to="c@shop.example", subject="Hi", body="Body")
    assert deliver_pending(db, None) == 0  # no SMTP: the table is the outbox
    url = "smtp+starttls://mailer:p%40ss@mail.example:2525?from=credit@store.example"
    target = SmtpTarget.from_url(url)
    assert (target.host, target.port, target.mode, target.sender) == (
        "mail.example",
        2525,
        "starttls",
        "credit@store.example",
    )
    FakeSMTP.fail = True
    assert deliver_pending(db, url) == 0
    with db.transaction() as session:
        [mail] = list_mails(session)
        assert mail.sent_at is None and mail.attempts == 1 and "gone" in (mail.last_error or "")
    FakeSMTP.fail = False
    assert deliver_pending(db, url) == 1
    assert deliver_pending(db, url) == 0
    [message] = FakeSMTP.sent
    assert message["To"] == "c@shop.example" and message["From"] == "credit@store.example"
    with db.transaction() as session:
        assert session.scalars(select(OutboxMail)).one().sent_at is not None
