from pathlib import Path

import pytest

from connector.config import ConfigError, load_settings


def settings(**env: str):  # type: ignore[no-untyped-def]
    return load_settings({"CONNECTOR_INSTANCE_PATH": "/tmp/x", **env})


def test_defaults_use_sqlite_in_the_instance_folder() -> None:
    s = settings()
    assert s.database_url == f"sqlite:///{Path('/tmp/x').resolve() / 'connector.sqlite3'}"
    assert (s.workers, s.threads, s.access_log, s.scheduler_enabled) == (0, 2, True, True)


def test_the_default_instance_is_the_users_not_the_working_folder() -> None:
    home = load_settings({"HOME": "/home/ana"})
    assert home.instance_path == Path("/home/ana/.local/share/connector").resolve()
    assert home.database_url.endswith("/home/ana/.local/share/connector/connector.sqlite3")
    xdg = load_settings({"HOME": "/home/ana", "XDG_DATA_HOME": "/data/ana"})
    assert xdg.instance_path == Path("/data/ana/connector").resolve()
    assert (
        load_settings({"HOME": "/h", "XDG_DATA_HOME": "relative"}).instance_path
        == Path("/h/.local/share/connector").resolve()
    )
    with pytest.raises(ConfigError, match="set CONNECTOR_INSTANCE_PATH"):
        load_settings({})


def test_a_relative_sqlite_path_is_made_absolute() -> None:
    url = settings(DATABASE_URL="sqlite:///rel/x.db").database_url
    assert url == f"sqlite:///{Path('rel/x.db').resolve()}"


def test_log_format() -> None:
    assert settings().log_format == "logfmt"
    assert settings(CONNECTOR_LOG_FORMAT="JSON").log_format == "json"
    assert settings(CONNECTOR_LOG_LEVEL=" debug ").log_level == "DEBUG"


def test_the_default_worker_count_fits_the_cores() -> None:
    import multiprocessing

    from connector.server import default_workers

    assert 1 <= default_workers("postgresql+psycopg://h/db") <= multiprocessing.cpu_count()


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
        ({"CONNECTOR_LOG_LEVEL": "verbose"}, "not 'verbose'"),
        ({"CONNECTOR_LOG_FORMAT": "xml"}, "CONNECTOR_LOG_FORMAT must be logfmt"),
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
