"""Logging: one line per event, key=value (logfmt) or JSON, with the request's id.

Every module logs through the standard library (``logging.getLogger(__name__)``, with
``extra={...}`` for fields); one handler renders each record with structlog's
``ProcessorFormatter``, so our lines, the libraries' and granian's own come out in one
format. The same configuration, as a ``dictConfig`` document, is handed to granian, which
applies it in each of its processes.

What is never logged: credentials and links. Requests are logged by their URL rule, never
their path or query (``/mycredits/link/<token>``); fields named like a secret are masked;
query strings inside messages (a callback URL's signature) lose their values; and the
libraries that would print statements with their parameters, or URLs with their queries,
stay at WARNING whatever the level (SQLAlchemy, urllib3).
"""

from __future__ import annotations

import logging
import logging.config
import os
import re
from contextvars import ContextVar
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

_request_id: ContextVar[str | None] = ContextVar("connector_request_id", default=None)

REQUEST_ID_HEADER = "X-Request-Id"
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# Libraries and how loud they may be, whatever CONNECTOR_LOG_LEVEL says.
QUIET = {
    # Nine "setup plugin" lines per command, and a line per step of a migration that ran
    # nothing: connector.migrate logs what it applies.
    "alembic": "WARNING",
    # "Running job ..." twice every 2 seconds; connector.jobs logs the runs that did
    # something or failed, and counts every run in /metrics.
    "apscheduler": "ERROR",
    # At INFO and below it prints statements with their parameters: tokens' hashes,
    # sign-in links in mails.
    "sqlalchemy": "WARNING",
    # At DEBUG it prints each URL with its query string (a callback URL's signature).
    "urllib3": "WARNING",
    # granian's own access log prints the raw path and query; connector.ops logs requests.
    "granian.access": "CRITICAL",
}

_SECRET_FIELD = re.compile(r"token|password|passwd|secret|authorization|cookie|signature", re.I)
_QUERY_VALUE = re.compile(r"([?&][^=&\s\"'<>]+=)[^&\s\"'<>]+")
MASK = "***"


def new_request_id(given: str | None) -> str:
    """The caller's ``X-Request-Id`` when it is a plain token, else a new one."""
    if given and _GIVEN_ID.match(given):
        return given
    return os.urandom(8).hex()


def set_request_id(request_id: str | None) -> Any:
    """Tag every line logged from here on in this context; returns the token to reset."""
    return _request_id.set(request_id)


def reset_request_id(token: Any) -> None:
    _request_id.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()


def _add_request_id(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    request_id = _request_id.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def redact(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """Mask fields named like a secret and the values of query strings in any text."""
    for key, value in event.items():
        if _SECRET_FIELD.search(key):
            event[key] = MASK
        elif isinstance(value, str) and "=" in value and ("?" in value or "&" in value):
            event[key] = _QUERY_VALUE.sub(rf"\1{MASK}", value)
    return event


def _drop_meta(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    event.pop("_record", None)
    event.pop("_from_structlog", None)
    event.pop("color_message", None)  # uvicorn-style duplicates some libraries add
    return event


_PRE_CHAIN: list[Processor] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    _add_request_id,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
]

_KEY_ORDER = ["ts", "level", "logger", "event", "request_id"]


def formatter(fmt: str = "logfmt") -> logging.Formatter:
    """The one formatter: a record becomes one line, logfmt or JSON."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False, default=str)
        if fmt == "json"
        else structlog.processors.LogfmtRenderer(key_order=_KEY_ORDER, drop_missing=True)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_PRE_CHAIN,
        processors=[
            _drop_meta,
            structlog.processors.format_exc_info,  # the traceback as one escaped field
            redact,
            _one_line,
            renderer,
        ],
    )


def _one_line(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """logfmt escapes newlines but not carriage returns; JSON escapes both."""
    for key, value in event.items():
        if isinstance(value, str) and "\r" in value:
            event[key] = value.replace("\r", "\\r")
    return event


def dict_config(
    level: str = "INFO", fmt: str = "logfmt", stream: str | IO[str] = "stderr"
) -> dict[str, Any]:
    """The logging configuration as a ``dictConfig`` document (granian applies it in each
    of its processes, so with a named stream it must stay plain data)."""
    handler: dict[str, Any] = {"formatter": "connector"}
    if isinstance(stream, str):
        handler.update({"class": "logging.StreamHandler", "stream": f"ext://sys.{stream}"})
    else:
        handler.update({"()": "logging.StreamHandler", "stream": stream})
    loggers: dict[str, Any] = {name: {"level": quiet} for name, quiet in QUIET.items()}
    # granian's logger: its start-up and worker lines, in our format.
    loggers["_granian"] = {"level": level, "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"connector": {"()": "connector.logs.formatter", "fmt": fmt}},
        "handlers": {"connector": handler},
        "root": {"level": level, "handlers": ["connector"]},
        "loggers": loggers,
    }


def configure(level: str = "INFO", fmt: str = "logfmt", stream: str | IO[str] = "stderr") -> None:
    """Send every record of this process through the one formatter to ``stream``."""
    logging.config.dictConfig(dict_config(level, fmt, stream))
    logging.captureWarnings(True)
