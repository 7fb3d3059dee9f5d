"""Durable callbacks for ``undefined`` payments: stored first, then POSTed until delivered.

Delivery claims one callback at a time under the payment's row lock and pushes its next
attempt out by a lease before calling out, so two schedulers never send the same
callback at once; a crash between the POST and its record means one more delivery
(at least once), which the gateway tolerates since the body is the same final state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.clock import utcnow
from connector.config import Settings
from connector.db import Database
from connector.http_client import HttpClient, OutboundError
from connector.ids import new_id
from connector.payments import states
from connector.payments.answers import payment_response
from connector.payments.models import CallbackStatus, Payment, PaymentCallback

log = logging.getLogger(__name__)

LIFETIME = timedelta(days=7)  # the gateway retries an undefined payment for 7 days
LEASE = timedelta(seconds=60)  # a claimed delivery is not retried before this
MAX_BACKOFF_SECONDS = 3600


def schedule_callback(
    session: Session,
    payment: Payment,
    *,
    final_status: str,
    code: str | None,
    message: str | None,
    due_at: datetime,
    now: datetime,
) -> PaymentCallback:
    """Store the final answer of an undefined payment, to be applied and sent at ``due_at``."""
    callback = PaymentCallback(
        id=new_id(),
        payment_id=payment.payment_id,
        final_status=final_status,
        final_code=code,
        final_message=message,
        status=CallbackStatus.WAITING,
        attempts=0,
        next_attempt_at=due_at,
        expires_at=now + LIFETIME,
        last_error=None,
        created_at=now,
        delivered_at=None,
    )
    session.add(callback)
    return callback


def withdraw_callback(session: Session, payment_id: str) -> None:
    """A cancelled payment's pending callback is never sent."""
    callback = session.scalar(
        select(PaymentCallback).where(PaymentCallback.payment_id == payment_id)
    )
    if callback is not None and callback.status == CallbackStatus.WAITING:
        callback.status = CallbackStatus.WITHDRAWN


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, ... up to an hour between attempts."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


@dataclass(frozen=True)
class _Claimed:
    callback_id: str
    url: str | None
    body: dict[str, Any]


def _claim(db: Database, callback_id: str, payment_id: str, now: datetime) -> _Claimed | None:
    with db.transaction() as session:
        # Lock order everywhere: payment first, then its callback.
        payment = session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
        callback = session.get(
            PaymentCallback, callback_id, with_for_update=True, populate_existing=True
        )
        if payment is None or callback is None:
            return None
        if callback.status != CallbackStatus.WAITING or callback.next_attempt_at > now:
            return None  # delivered, withdrawn, or claimed by another scheduler
        # Store the final state first: from now on every create answers it.
        states.decide(
            payment, callback.final_status, callback.final_code, callback.final_message, now=now
        )
        callback.attempts += 1
        callback.next_attempt_at = now + LEASE
        if not payment.callback_url:
            callback.status = CallbackStatus.SKIPPED
            callback.last_error = "the payment has no callbackUrl"
            return None
        return _Claimed(callback.id, payment.callback_url, payment_response(payment))


def _record(db: Database, callback_id: str, error: str | None, now: datetime) -> None:
    with db.transaction() as session:
        callback = session.get(PaymentCallback, callback_id, with_for_update=True)
        assert callback is not None
        if error is None:
            callback.status, callback.delivered_at = CallbackStatus.DELIVERED, now
            callback.last_error = None
            return
        callback.last_error = error[:2000]
        if now >= callback.expires_at:
            callback.status = CallbackStatus.EXPIRED
        else:
            callback.next_attempt_at = now + backoff(callback.attempts)


def deliver_due_callbacks(
    db: Database,
    settings: Settings,
    *,
    client: HttpClient | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> int:
    """Send every callback that is due; return how many were delivered."""
    client = client or HttpClient()
    headers = {}
    if settings.callback_app_key and settings.callback_app_token:
        headers = {
            "X-VTEX-API-AppKey": settings.callback_app_key,
            "X-VTEX-API-AppToken": settings.callback_app_token,
        }
    delivered = 0
    moment = now or utcnow()
    with db.transaction() as session:
        due = session.execute(
            select(PaymentCallback.id, PaymentCallback.payment_id)
            .where(
                PaymentCallback.status == CallbackStatus.WAITING,
                PaymentCallback.next_attempt_at <= moment,
            )
            .order_by(PaymentCallback.next_attempt_at)
            .limit(limit)
        ).all()
    for callback_id, payment_id in due:
        claimed = _claim(db, callback_id, payment_id, moment)
        if claimed is None or claimed.url is None:
            continue
        try:
            client.post_json(claimed.url, claimed.body, headers)
        except OutboundError as exc:
            log.warning("callback %s for payment %s failed: %s", callback_id, payment_id, exc)
            _record(db, callback_id, str(exc), now or utcnow())
            continue
        _record(db, callback_id, None, now or utcnow())
        delivered += 1
    return delivered
