from pathlib import Path

import pytest

from connector.config import ConfigError, load_settings


def settings(**env: str):  # type: ignore[no-untyped-def]
    return load_settings({"CONNECTOR_INSTANCE_PATH": "/tmp/x", **env})


def test_defaults_use_sqlite_in_the_instance_folder() -> None:
    s = settings()
    assert s.database_url == f"sqlite:///{Path('/tmp/x').resolve() / 'connector.sqlite3'}"
    assert (s.workers, s.threads, s.access_log, s.scheduler_enabled) == (0, 1, True, True)


def test_postgres_urls_use_psycopg_3() -> None:
    assert settings(DATABASE_URL="postgres://u:p@h/db").database_url == (
        "postgresql+psycopg://u:p@h/db"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x/y"}, "backend 'mysql' is not supported"),
        ({"DATABASE_URL": "sqlite://"}, "must name a SQLite file"),
        ({"CONNECTOR_APP_KEY": "k"}, "must be set together"),
        ({"CONNECTOR_APP_KEY": "k", "CONNECTOR_APP_TOKEN": "short"}, "too short"),
        ({"CONNECTOR_SECRET_KEY": "short"}, "too short"),
        ({"CONNECTOR_WORKERS": "many"}, "must be a whole number"),
        ({"CONNECTOR_THREADS": "0"}, "between 1 and 64"),
        ({"CONNECTOR_ACCESS_LOG": "maybe"}, "must be true or false"),
        ({"CONNECTOR_LOG_LEVEL": "LOUD"}, "CONNECTOR_LOG_LEVEL"),
        ({"CONNECTOR_ALLOWED_HOSTS": "*"}, "needs CONNECTOR_PUBLIC_URL"),
        ({"CONNECTOR_ALLOWED_HOSTS": "evil.com/x"}, "is not a host name"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(**env)


def test_the_allowed_hosts() -> None:
    assert settings().allowed_hosts == ("localhost", "127.0.0.1")
    public = settings(CONNECTOR_PUBLIC_URL="https://credit.store.example/")
    assert public.allowed_hosts == ("credit.store.example", "localhost", "127.0.0.1")
    named = settings(
        CONNECTOR_ALLOWED_HOSTS="connector.internal, .store.example",
        CONNECTOR_PUBLIC_URL="https://credit.store.example",
    )
    assert named.allowed_hosts == ("connector.internal", ".store.example", "credit.store.example")
    anything = settings(CONNECTOR_ALLOWED_HOSTS="*", CONNECTOR_PUBLIC_URL="https://c.example")
    assert anything.allowed_hosts == ("*",)
