"""The outbox: every mail is first a row, sent by SMTP when ``CONNECTOR_SMTP_URL`` is set.

Writing the mail in the same transaction as what caused it means a mail is never sent
for a change that rolled back, and never lost for one that committed. Without SMTP the
rows are the outbox that operators (``connector mail list``) and tests read.

``CONNECTOR_SMTP_URL``: ``smtp://[user:password@]host[:port]`` (plain),
``smtp+starttls://...`` (STARTTLS, port 587 by default) or ``smtps://...`` (TLS, 465),
with ``?from=address`` for the sender (default ``no-reply@<host>``).
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import JSON, Index, String, Text, or_, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from connector.clock import utcnow
from connector.credit.identity import canonical_email
from connector.db import Base, Database
from connector.ids import new_id

log = logging.getLogger(__name__)
_TIMEOUT_SECONDS = 15
MAX_ATTEMPTS = 10
CLAIM_SECONDS = 120  # longer than an SMTP conversation can take (timeouts of 15 s)


class OutboxMail(Base):
    """A mail to send. Kept after sending, so operators and tests can read what went out.

    ``body`` is the plain text every client shows; ``html``, when there is one, the same
    mail laid out, with ``images`` (``{cid: base64 PNG}``) it shows inline.
    """

    __tablename__ = "outbox_mails"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    images: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(Text)
    # A sender's claim: no other process sends it before then (two schedulers, one mail).
    claimed_until: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_outbox_mails_created_at", "created_at", "id"),
        # The mails still to send: what the sender and the outbox gauge of /metrics read.
        Index(
            "ix_outbox_mails_unsent",
            "created_at",
            sqlite_where=text("sent_at IS NULL"),
            postgresql_where=text("sent_at IS NULL"),
        ),
    )


def queue_mail(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    html: str | None = None,
    images: dict[str, bytes] | None = None,
    now: datetime | None = None,
) -> OutboxMail:
    """Put a mail in the outbox, in the caller's transaction."""
    mail = OutboxMail(
        id=new_id(),
        recipient=to,
        subject=subject,
        body=body,
        html=html,
        images={cid: base64.b64encode(png).decode() for cid, png in images.items()}
        if images
        else None,
        created_at=now or utcnow(),
        sent_at=None,
        attempts=0,
        last_error=None,
        claimed_until=None,
    )
    session.add(mail)
    session.flush()
    return mail


def list_mails(
    session: Session, *, recipient: str | None = None, limit: int = 50
) -> list[OutboxMail]:
    """The latest mails, newest first."""
    query = select(OutboxMail).order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())
    if recipient is not None:
        query = query.where(OutboxMail.recipient == canonical_email(recipient))
    return list(session.scalars(query.limit(limit)))


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    mode: str  # plain, starttls, tls
    username: str | None
    password: str | None
    sender: str

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        mode = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}[parts.scheme]
        default_port = {"plain": 25, "starttls": 587, "tls": 465}[mode]
        host = parts.hostname or "localhost"
        sender = parse_qs(parts.query).get("from", [f"no-reply@{host}"])[0]
        return cls(
            host=host,
            port=parts.port or default_port,
            mode=mode,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=sender,
        )

    def send(self, mail: OutboxMail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.recipient
        message["Subject"] = mail.subject
        # The same id on every attempt: a mail sent again after a crash is the same message.
        message["Message-ID"] = f"<{mail.id}@{self.host}>"
        message.set_content(mail.body)
        if mail.html is not None:
            message.add_alternative(mail.html, subtype="html")
            html_part = message.get_body(("html",))
            assert html_part is not None
            for cid, data in (mail.images or {}).items():
                html_part.add_related(
                    base64.b64decode(data), "image", "png", cid=f"<{cid}>", filename=f"{cid}.png"
                )
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.mode == "tls":
            client = smtplib.SMTP_SSL(
                self.host, self.port, timeout=_TIMEOUT_SECONDS, context=context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=_TIMEOUT_SECONDS)
        with client:
            if self.mode == "starttls":
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)


def deliver_pending(db: Database, smtp_url: str | None, *, limit: int = 20) -> int:
    """Send unsent mails by SMTP (when configured); returns how many went out.

    The SMTP conversation happens outside any transaction (on SQLite a transaction holds
    the database's write lock): claim the mail and count the attempt, send, then record
    the outcome. A claim keeps a second sender (another scheduler, a sign-in page) off
    the mail for ``CLAIM_SECONDS``. A crash between the SMTP server's acceptance and the
    record sends that mail again once its claim runs out, with the same Message-ID, which
    mail systems recognise: delivery is at least once, never twice at the same moment.
    """
    if not smtp_url:
        return 0
    target = SmtpTarget.from_url(smtp_url)
    now = utcnow()
    with db.transaction() as session:
        due = list(
            session.scalars(
                select(OutboxMail.id)
                .where(
                    OutboxMail.sent_at.is_(None),
                    OutboxMail.attempts < MAX_ATTEMPTS,
                    or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now),
                )
                .order_by(OutboxMail.created_at)
                .limit(limit)
            )
        )
    sent = 0
    for mail_id in due:
        with db.transaction() as session:
            mail = session.get(OutboxMail, mail_id, with_for_update=True)
            now = utcnow()
            if (
                mail is None
                or mail.sent_at is not None
                or (mail.claimed_until is not None and mail.claimed_until >= now)
            ):
                continue
            mail.attempts += 1
            mail.claimed_until = now + timedelta(seconds=CLAIM_SECONDS)
        error: str | None = None
        try:
            target.send(mail)
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("mail %s to %s not sent: %s", mail.id, mail.recipient, exc)
        with db.transaction() as session:
            row = session.get(OutboxMail, mail_id, with_for_update=True)
            assert row is not None
            if error is None:
                row.sent_at, row.last_error = utcnow(), None
                sent += 1
            else:
                row.last_error, row.claimed_until = error, None  # the next run tries again
    return sent
