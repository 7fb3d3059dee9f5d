"""People from the admin: set-password links, the last admin, the TOTP second factor, and
what an API key records (who made it, its last use)."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy.orm import Session

from connector.access.keys import ApiKey, create_key, note_use
from connector.access.users import (
    MIN_PASSWORD_LENGTH,
    SET_PASSWORD_TTL,
    TOTP_LOCKOUT,
    TOTP_MAX_FAILURES,
    PasswordLinkRefused,
    StaffUser,
    authenticate,
    confirm_totp,
    create_user,
    disable_user,
    invite_user,
    new_totp_secret,
    password_link_user,
    redeem_password_link,
    remove_totp,
    set_role,
    start_password_link,
    verify_totp,
)
from connector.clock import utcnow
from connector.errors import Code, Conflict, ValidationError

SECRET_KEY = "s" * 40


def test_an_invited_user_sets_a_password_once_with_the_link(session: Session) -> None:
    moment = utcnow()
    user, link = invite_user(
        session, email="New@Store.example", name="New", role="finance", by="boss@x", now=moment
    )
    assert link.email == "new@store.example" and link.expires_at == moment + SET_PASSWORD_TTL
    assert link.token not in str(session.get(StaffUser, user.id).__dict__)  # only its hash
    assert password_link_user(session, link.token, now=moment).id == user.id
    with pytest.raises(ValidationError) as short:
        redeem_password_link(session, link.token, "x" * (MIN_PASSWORD_LENGTH - 1), now=moment)
    assert short.value.message == f"password too short: at least {MIN_PASSWORD_LENGTH} characters"
    epoch = user.session_epoch
    redeem_password_link(session, link.token, "x" * MIN_PASSWORD_LENGTH, now=moment)
    assert authenticate(session, "new@store.example", "x" * MIN_PASSWORD_LENGTH) is not None
    assert user.session_epoch == epoch + 1
    with pytest.raises(PasswordLinkRefused, match="already used"):
        redeem_password_link(session, link.token, "y" * 12, now=moment)


def test_a_link_expires_and_a_new_one_voids_the_old(session: Session) -> None:
    moment = utcnow()
    _user, first = invite_user(session, email="a@store.example", role="viewer", now=moment)
    with pytest.raises(PasswordLinkRefused, match="expired"):
        password_link_user(session, first.token, now=moment + SET_PASSWORD_TTL)
    second = start_password_link(session, "a@store.example", now=moment)
    with pytest.raises(PasswordLinkRefused, match="already used"):
        password_link_user(session, first.token, now=moment)
    assert password_link_user(session, second.token, now=moment).email == "a@store.example"
    with pytest.raises(PasswordLinkRefused, match="not valid"):
        password_link_user(session, second.token + "x", now=moment)


def test_the_last_active_admin_is_neither_disabled_nor_demoted(session: Session) -> None:
    create_user(session, email="boss@store.example", password="a very long secret")
    for change in (
        lambda: set_role(session, "boss@store.example", "finance"),
        lambda: disable_user(session, "boss@store.example"),
    ):
        with pytest.raises(Conflict) as refused:
            change()
        assert refused.value.code == Code.LAST_ADMIN
    create_user(session, email="two@store.example", password="a very long secret")
    disable_user(session, "two@store.example")  # a disabled admin does not count
    with pytest.raises(Conflict):
        set_role(session, "boss@store.example", "viewer")
    create_user(session, email="three@store.example", password="a very long secret")
    assert set_role(session, "boss@store.example", "viewer").role == "viewer"


def _enrolled(session: Session) -> tuple[StaffUser, str]:
    user = create_user(session, email="otp@store.example", password="a very long secret")
    secret = new_totp_secret()
    moment = utcnow()
    with pytest.raises(ValidationError):
        confirm_totp(session, user.id, secret, "000000x", secret_key=SECRET_KEY, now=moment)
    # The code of the step before is accepted too (a clock a little behind).
    code = pyotp.TOTP(secret).at(moment - timedelta(seconds=30))
    confirm_totp(session, user.id, secret, code, secret_key=SECRET_KEY, now=moment)
    return user, secret


def test_the_totp_secret_is_stored_encrypted(session: Session) -> None:
    user, secret = _enrolled(session)
    assert user.totp_secret is not None and secret not in user.totp_secret
    assert user.has_second_factor


def test_a_totp_code_is_accepted_once_and_with_one_step_of_drift(session: Session) -> None:
    user, secret = _enrolled(session)
    later = utcnow() + timedelta(minutes=5)
    totp = pyotp.TOTP(secret)
    ahead = totp.at(later + timedelta(seconds=30))
    assert verify_totp(session, user.id, ahead, secret_key=SECRET_KEY, now=later)
    assert not verify_totp(session, user.id, ahead, secret_key=SECRET_KEY, now=later)  # replay
    far = later + timedelta(minutes=5)
    assert not verify_totp(
        session, user.id, totp.at(far + timedelta(seconds=90)), secret_key=SECRET_KEY, now=far
    )
    assert verify_totp(session, user.id, totp.at(far), secret_key=SECRET_KEY, now=far)
    # Another service key cannot read the secret.
    assert not verify_totp(
        session,
        user.id,
        totp.at(far + timedelta(minutes=1)),
        secret_key="t" * 40,
        now=far + timedelta(minutes=1),
    )


def test_wrong_codes_lock_the_second_factor_for_a_while(session: Session) -> None:
    user, secret = _enrolled(session)
    moment = utcnow() + timedelta(minutes=5)
    for _ in range(TOTP_MAX_FAILURES):
        assert not verify_totp(session, user.id, "000000", secret_key=SECRET_KEY, now=moment)
    right = pyotp.TOTP(secret).at(moment)
    assert not verify_totp(session, user.id, right, secret_key=SECRET_KEY, now=moment)
    after = moment + TOTP_LOCKOUT
    assert verify_totp(
        session, user.id, pyotp.TOTP(secret).at(after), secret_key=SECRET_KEY, now=after
    )


def test_an_admin_removes_a_second_factor(session: Session) -> None:
    user, _secret = _enrolled(session)
    remove_totp(session, user.email)
    assert not user.has_second_factor and user.totp_last_step is None


def test_a_key_records_its_maker_and_its_use_at_most_once_a_minute(session: Session) -> None:
    issued = create_key(session, role="read", label="ERP", by="boss@store.example")
    row = session.get(ApiKey, issued.app_key)
    assert row is not None and row.created_by == "boss@store.example" and row.last_used_at is None
    moment = utcnow()
    note_use(session, issued.app_key, moment)
    session.refresh(row)
    assert row.last_used_at == moment
    note_use(session, issued.app_key, moment + timedelta(seconds=59))
    session.refresh(row)
    assert row.last_used_at == moment
    note_use(session, issued.app_key, moment + timedelta(seconds=60))
    session.refresh(row)
    assert row.last_used_at == moment + timedelta(seconds=60)
