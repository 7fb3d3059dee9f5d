"""Settings read once from the environment and checked at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(Exception):
    """A setting has a value the service cannot run with."""


LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
# Where the checkout platform's admin lives: the hosts the configuration flow may send a
# merchant back to with an authorization code (connector.access.connections).
PLATFORM_RETURN_HOSTS = (".myvtex.com", ".vtexcommercestable.com.br", ".vtexpayments.com.br")
_HOST = re.compile(r"^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_TRUE = {"1", "true", "yes", "on"}
LOG_FORMATS = ("logfmt", "json")
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Every process-level setting of the service (store settings live in the database)."""

    database_url: str
    instance_path: Path
    app_key: str | None = None
    app_token: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    callback_app_key: str | None = None
    callback_app_token: str | None = field(default=None, repr=False)
    allow_testsuite_without_credentials: bool = False
    workers: int = 0  # 0: pick from the number of cores
    threads: int = 2  # application threads per worker process: one waits, one runs
    access_log: bool = True
    express_authorization: bool = True  # PostgreSQL only: see connector.protocol.express
    # False behind a pooler that moves a session's statements between server connections
    # (PgBouncer in transaction mode before 1.21): no statement is prepared on the server.
    db_prepared_statements: bool = True
    scheduler_enabled: bool = True
    log_level: str = "INFO"
    log_format: str = "logfmt"  # one line per event: key=value, or JSON
    # The admin and My Credits pages (connector.web).
    cookie_secure: bool = True  # False only for plain-HTTP use on a trusted network
    session_hours: int = 12
    public_url: str | None = None  # the base of links sent by e-mail or minted by API
    # The Host names requests may name; "*" accepts any (only with a public URL). The
    # default: the public URL's host, and localhost for a first run on this machine.
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    smtp_url: str | None = field(default=None, repr=False)  # unset: mails stay in the outbox
    # The hosts a configuration flow's returnUrl may name (connector.access.connections).
    onboarding_return_hosts: tuple[str, ...] = (*PLATFORM_RETURN_HOSTS, *LOOPBACK_HOSTS)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        return replace(self, **dict(overrides))


def normalize_database_url(url: str) -> str:
    """Check a database URL and pick the psycopg 3 driver for plain PostgreSQL URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif parsed.drivername != "postgresql+psycopg":
            raise ConfigError(
                f"DATABASE_URL driver {parsed.drivername!r} is not supported; "
                "use postgresql+psycopg://user:password@host/dbname"
            )
    elif backend == "sqlite":
        if parsed.drivername != "sqlite":
            raise ConfigError("DATABASE_URL for SQLite must start with sqlite:///")
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError(
                "DATABASE_URL must name a SQLite file (an in-memory database is not shared "
                "between the server's processes)"
            )
        # Absolute from here on, so that every message names the file a command would use.
        parsed = parsed.set(database=str(Path(parsed.database).resolve()))
    else:
        raise ConfigError(
            f"DATABASE_URL backend {backend!r} is not supported; use sqlite:///path or "
            "postgresql+psycopg://..."
        )
    return parsed.render_as_string(hide_password=False)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def _pair(env: Mapping[str, str], key_name: str, token_name: str) -> tuple[str | None, str | None]:
    key = env.get(key_name) or None
    token = env.get(token_name) or None
    if (key is None) != (token is None):
        raise ConfigError(f"{key_name} and {token_name} must be set together")
    if token is not None and len(token) < 16:
        raise ConfigError(f"{token_name} is too short: use at least 16 characters")
    return key, token


def _allowed_hosts(raw: str | None, public_url: str | None) -> tuple[str, ...]:
    """The Host names a request may name. Links a request builds take its host, so a host
    nobody configured must never be trusted (it could send a customer elsewhere)."""
    public_host = urlsplit(public_url).hostname if public_url else None
    if raw is None or not raw.strip():
        names = [public_host] if public_host else []
        return (*names, *LOOPBACK_HOSTS)
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    if "*" in names:
        if public_url is None:
            raise ConfigError(
                "CONNECTOR_ALLOWED_HOSTS=* needs CONNECTOR_PUBLIC_URL: without it, links "
                "would name whatever host a request names"
            )
        return ("*",)
    for name in names:
        if not _HOST.match(name):
            raise ConfigError(
                f"CONNECTOR_ALLOWED_HOSTS: {name!r} is not a host name "
                "(such as credit.store.example, or .store.example for every subdomain)"
            )
    if public_host and public_host not in names:
        names.append(public_host)
    return tuple(names)


def _return_hosts(raw: str | None) -> tuple[str, ...]:
    """The hosts the configuration flow may send an authorization code to."""
    if raw is None or not raw.strip():
        return (*PLATFORM_RETURN_HOSTS, *LOOPBACK_HOSTS)
    names = tuple(name.strip().lower() for name in raw.split(",") if name.strip())
    for name in names:
        if not _HOST.match(name):
            raise ConfigError(
                f"CONNECTOR_ONBOARDING_RETURN_HOSTS: {name!r} is not a host name "
                "(such as mystore.myvtex.com, or .myvtex.com for every subdomain)"
            )
    return names


def default_instance_path(env: Mapping[str, str]) -> Path:
    """The user's data folder for the service: the same wherever a command is run from.

    ``$XDG_DATA_HOME/connector``, else ``~/.local/share/connector`` (the XDG base
    directory default), so ``connector users create`` in any folder reaches the database
    ``connector serve`` made.
    """
    xdg = env.get("XDG_DATA_HOME") or ""
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "connector"
    home = env.get("HOME") or ""
    if not home:
        raise ConfigError(
            "no home folder to keep the instance in (HOME is not set): "
            "set CONNECTOR_INSTANCE_PATH, or DATABASE_URL and CONNECTOR_SECRET_KEY"
        )
    return Path(home) / ".local" / "share" / "connector"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check the settings; raise ConfigError with a message naming the bad value."""
    env = os.environ if env is None else env
    configured_instance = env.get("CONNECTOR_INSTANCE_PATH") or ""
    instance_path = (
        Path(configured_instance) if configured_instance else default_instance_path(env)
    ).resolve()
    default_url = f"sqlite:///{instance_path / 'connector.sqlite3'}"
    database_url = normalize_database_url(env.get("DATABASE_URL") or default_url)
    app_key, app_token = _pair(env, "CONNECTOR_APP_KEY", "CONNECTOR_APP_TOKEN")
    cb_key, cb_token = _pair(env, "CONNECTOR_CALLBACK_APP_KEY", "CONNECTOR_CALLBACK_APP_TOKEN")
    secret_key = env.get("CONNECTOR_SECRET_KEY") or None
    if secret_key is not None and len(secret_key) < 32:
        raise ConfigError("CONNECTOR_SECRET_KEY is too short: use at least 32 characters")
    raw_level = env.get("CONNECTOR_LOG_LEVEL") or "INFO"
    log_level = raw_level.strip().upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(
            f"CONNECTOR_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {raw_level!r}"
        )
    log_format = (env.get("CONNECTOR_LOG_FORMAT") or "logfmt").strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"CONNECTOR_LOG_FORMAT must be logfmt (key=value) or json, "
            f"not {env.get('CONNECTOR_LOG_FORMAT')!r}"
        )
    public_url = (env.get("CONNECTOR_PUBLIC_URL") or "").strip().rstrip("/") or None
    if public_url is not None and not public_url.startswith(("https://", "http://")):
        raise ConfigError(
            f"CONNECTOR_PUBLIC_URL must start with https:// or http://, not {public_url!r}"
        )
    allowed_hosts = _allowed_hosts(env.get("CONNECTOR_ALLOWED_HOSTS"), public_url)
    smtp_url = (env.get("CONNECTOR_SMTP_URL") or "").strip() or None
    if smtp_url is not None and not smtp_url.startswith(
        ("smtp://", "smtps://", "smtp+starttls://")
    ):
        raise ConfigError(
            "CONNECTOR_SMTP_URL must start with smtp://, smtps:// or smtp+starttls://"
        )
    return Settings(
        database_url=database_url,
        instance_path=instance_path,
        app_key=app_key,
        app_token=app_token,
        secret_key=secret_key,
        callback_app_key=cb_key,
        callback_app_token=cb_token,
        allow_testsuite_without_credentials=_bool(
            env, "CONNECTOR_ALLOW_TESTSUITE_WITHOUT_CREDENTIALS", False
        ),
        workers=_int(env, "CONNECTOR_WORKERS", 0, 0, 64),
        threads=_int(env, "CONNECTOR_THREADS", 2, 1, 64),
        access_log=_bool(env, "CONNECTOR_ACCESS_LOG", True),
        express_authorization=_bool(env, "CONNECTOR_EXPRESS_AUTHORIZATION", True),
        db_prepared_statements=_bool(env, "CONNECTOR_DB_PREPARED_STATEMENTS", True),
        scheduler_enabled=_bool(env, "CONNECTOR_SCHEDULER", True),
        log_level=log_level,
        log_format=log_format,
        cookie_secure=_bool(env, "CONNECTOR_COOKIE_SECURE", True),
        session_hours=_int(env, "CONNECTOR_SESSION_HOURS", 12, 1, 24 * 30),
        public_url=public_url,
        allowed_hosts=allowed_hosts,
        smtp_url=smtp_url,
        onboarding_return_hosts=_return_hosts(env.get("CONNECTOR_ONBOARDING_RETURN_HOSTS")),
    )
