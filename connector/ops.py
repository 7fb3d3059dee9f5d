"""What an operator, a load balancer and Prometheus ask the service, and how every request
is observed.

- ``GET /health``: the process answers (no database): restart it when this fails.
- ``GET /ready``: the database answers, its schema is this version's, and a scheduler beat
  recently: send it traffic only while this is 200.
- ``GET /metrics``: Prometheus' text format, for a key with the ``read`` role (the
  ``X-VTEX-API-AppKey``/``AppToken`` headers, or HTTP Basic with the key as user name
  and the token as password, which every Prometheus can send).

The three answer whatever ``Host`` a request names (probes name an address, not the
service's name) and build no link, so the host check (``connector.hosts``) lets them by.

``Observed`` stands in front of everything, the express entrance included: it gives each
request an id (the caller's ``X-Request-Id``, or a new one, returned in the answer's
``X-Request-Id``) that every line logged for it carries, writes one access line by URL
rule (never the path, which may hold a sign-in token, nor the query), and counts the
request, its time and, for ``POST /payments`` answered by Flask, the authorization it
answered (the express entrance counts its own approvals, which it answers before Flask).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy.orm import Session

from connector import logs, metrics
from connector.access.principals import READ, credentials_from
from connector.clock import utcnow
from connector.context import get_authenticator, get_db, get_settings, of
from connector.heartbeat import STALE_AFTER, last_beat
from connector.migrate import current_revisions, head_revisions

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)
access_log = logging.getLogger("connector.access")

bp = Blueprint("ops", __name__)

PROBES = frozenset({"/health", "/ready", "/metrics"})
_ROUTE = "connector.route"  # the URL rule Flask matched, left in the WSGI environ
_CREATE = "/payments"
UNMATCHED = "unmatched"
# A label's values must stay few: any other method a client invents is "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_note_route)
    # Flask's own line for an unhandled error names the raw path: ours names the rule.
    app.log_exception = partial(_log_exception, app)  # type: ignore[method-assign]
    metrics.count_the_ledger()


def observe(app: Flask) -> None:
    """Put ``Observed`` in front of the app's whole WSGI stack (call it last)."""
    app.wsgi_app = Observed(  # type: ignore[method-assign]
        app.wsgi_app,
        probes=partial(Flask.wsgi_app, app),
        static_routes={rule.rule for rule in app.url_map.iter_rules() if not rule.arguments},
        access_log=of(app).settings.access_log,
    )


@bp.get("/health")
def health() -> Response:
    """The process answers; nothing else is asked (a database outage is /ready's)."""
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready() -> tuple[Response, int]:
    """Whether this process should get traffic: database, schema, scheduler."""
    checks: dict[str, Any] = {}
    now = utcnow()
    try:
        revisions, beat = get_db().run(_read_state, read_only=True)
    except Exception as exc:  # any failure to reach the database is "not ready"
        log.warning("readiness: database unavailable", extra={"error": _first_line(exc)})
        checks["database"] = {"ok": False, "error": "the database is unavailable"}
        return jsonify({"status": "unavailable", "checks": checks}), 503
    checks["database"] = {"ok": True}
    expected = head_revisions()
    checks["migrations"] = {
        "ok": revisions == expected,
        "current": sorted(revisions),
        "expected": sorted(expected),
    }
    checks["scheduler"] = _scheduler_check(beat, now, get_settings().scheduler_enabled)
    ok = all(check["ok"] for check in checks.values())
    return jsonify({"status": "ok" if ok else "unavailable", "checks": checks}), (
        200 if ok else 503
    )


def _read_state(session: Session) -> tuple[frozenset[str], datetime | None]:
    """The schema's revisions, and the last beat when the schema is this version's (an
    older one may lack the heartbeat's table)."""
    revisions = current_revisions(session.connection())
    return revisions, last_beat(session) if revisions == head_revisions() else None


def _scheduler_check(beat: datetime | None, now: datetime, required: bool) -> dict[str, Any]:
    """Recent: within ``STALE_AFTER`` (four beats). Where this server runs no scheduler
    (``CONNECTOR_SCHEDULER=false``: one runs elsewhere), its age is shown but not required:
    a stopped scheduler must not take every web node out of the load balancer."""
    age = None if beat is None else max((now - beat).total_seconds(), 0.0)
    recent = age is not None and age <= STALE_AFTER.total_seconds()
    check: dict[str, Any] = {
        "ok": recent or not required,
        "lastBeatAgeSeconds": None if age is None else round(age, 1),
        "staleAfterSeconds": int(STALE_AFTER.total_seconds()),
    }
    if not required:
        check["required"] = False
    return check


@bp.get("/metrics")
def scrape() -> Response | tuple[Response, int]:
    """Prometheus' text format, for a key that may read."""
    key, token = credentials_from(request.headers)
    if not key and request.authorization is not None:
        key = request.authorization.username or ""
        token = request.authorization.password or ""
    principal = get_authenticator().authenticate(key, token)
    if principal is None:
        answer = jsonify(
            {"error": {"code": "unauthorized", "message": "a key with the read role is needed"}}
        )
        answer.headers["WWW-Authenticate"] = 'Basic realm="connector metrics"'
        return answer, 401
    if not principal.may(READ):
        message = f"the {principal.role!r} role may not read metrics"
        return jsonify({"error": {"code": "forbidden", "message": message}}), 403
    answer = Response(metrics.exposition(get_db()), mimetype=None)
    answer.headers["Content-Type"] = metrics.CONTENT_TYPE
    return answer


def _note_route(response: Response) -> Response:
    """Leave the matched URL rule for ``Observed``, and count a general-path authorization."""
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED
    request.environ[_ROUTE] = route
    if route == _CREATE and request.method == "POST":
        _count_authorization(response.status_code, response.get_json(silent=True))
    return response


def _count_authorization(status: int, body: Any) -> None:
    body = body if isinstance(body, dict) else {}
    code = str(body.get("code") or "")
    result = str(body.get("status") or "") if status == 200 else "error"
    metrics.AUTHORIZATIONS.labels(result or "error", code).inc()


def _log_exception(
    app: Flask,
    exc_info: tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None],
) -> None:
    rule = request.url_rule
    log.error(
        "unhandled error",
        exc_info=exc_info,
        extra={"method": request.method, "route": rule.rule if rule else UNMATCHED},
    )


class Observed:
    """WSGI: a request id, one access line, and the request's metrics, for every request."""

    def __init__(
        self,
        following: WSGIApplication,
        *,
        probes: WSGIApplication,
        static_routes: Iterable[str],
        access_log: bool,
    ) -> None:
        self.following = following
        self.probes = probes
        self.static_routes = frozenset(static_routes)
        self.access_log = access_log
        # Label children cached: a dict lookup instead of prometheus' lock per request.
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = logs.new_request_id(environ.get("HTTP_X_REQUEST_ID"))
        token = logs.set_request_id(request_id)
        path, method = environ.get("PATH_INFO") or "/", environ.get("REQUEST_METHOD") or "GET"
        method = method if method in _METHODS else "other"
        status = "500"

        def answer(
            status_line: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            nonlocal status
            status = status_line[:3]
            headers.append((logs.REQUEST_ID_HEADER, request_id))
            return start_response(status_line, headers, exc_info)

        try:
            app = self.probes if path in PROBES else self.following
            return app(environ, answer)
        finally:
            seconds = time.perf_counter() - started
            route = environ.get(_ROUTE)
            if route is None:  # answered before Flask: the express entrance, the host check
                route = path if path in self.static_routes else UNMATCHED
            self._count(method, route, status, seconds)
            if self.access_log:
                self._log(method, route, status, seconds, environ)
            logs.reset_request_id(token)

    def _count(self, method: str, route: str, status: str, seconds: float) -> None:
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = metrics.HTTP_REQUESTS.labels(method, route, status)
            self._counters[(method, route, status)] = counter
        counter.inc()
        timer = self._timers.get((method, route))
        if timer is None:
            timer = metrics.HTTP_SECONDS.labels(method, route)
            self._timers[(method, route)] = timer
        timer.observe(seconds)

    @staticmethod
    def _log(
        method: str, route: str, status: str, seconds: float, environ: WSGIEnvironment
    ) -> None:
        # Probes that pass come every few seconds: DEBUG, so they do not drown the rest.
        quiet = route in PROBES and status == "200"
        level = logging.DEBUG if quiet else logging.INFO
        if access_log.isEnabledFor(level):
            access_log.log(
                level,
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "status": int(status),
                    "duration_ms": round(seconds * 1000, 2),
                    "client": environ.get("REMOTE_ADDR"),
                },
            )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
