"""The runner's tools: an HTTP client that keeps evidence, and a local callback receiver."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests

ANSWER_LIMIT_SECONDS = 5.0  # the homologation suite's limit for every answer
TESTSUITE_HEADERS = {"X-VTEX-API-Is-TestSuite": "true"}


class CaseFailure(Exception):
    """A check of a case did not hold."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise CaseFailure(message)


@dataclass
class Exchange:
    """One request and its answer, kept as evidence."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any
    status: int | None = None
    response_body: Any = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def json(self) -> Any:
        return self.response_body if isinstance(self.response_body, dict | list) else None

    def describe(self) -> str:
        body = (
            self.request_body
            if isinstance(self.request_body, str)
            else json.dumps(self.request_body, default=str)
        )
        answer = self.error or f"HTTP {self.status} in {self.seconds:.3f}s: " + (
            json.dumps(self.response_body, default=str)
            if not isinstance(self.response_body, str)
            else self.response_body
        )
        return f"{self.method} {self.url}\n  request:  {body}\n  response: {answer}"


def _redacted(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if "token" in k.lower() else v) for k, v in headers.items()}


class Client:
    """Calls the connector and keeps every exchange; too slow an answer fails the case."""

    def __init__(self, base_url: str, app_key: str, app_token: str, timeout: float = 20) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = {"X-VTEX-API-AppKey": app_key, "X-VTEX-API-AppToken": app_token}
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self.exchanges: list[Exchange] = []

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        credentials: bool = True,
        raw: str | None = None,
    ) -> Exchange:
        """Send a request; ``raw`` sends a body as is (to test malformed JSON)."""
        sent = {"Content-Type": "application/json", **(self.credentials if credentials else {})}
        sent.update(headers or {})
        url = self.base_url + path
        exchange = Exchange(method, url, _redacted(sent), raw if raw is not None else body)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        started = time.monotonic()
        try:
            response = self._session().request(
                method, url, data=data, headers=sent, timeout=self.timeout
            )
        except requests.RequestException as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            exchange.seconds = time.monotonic() - started
            self._keep(exchange)
            raise CaseFailure(f"no answer from {method} {path}: {exchange.error}") from exc
        exchange.seconds = time.monotonic() - started
        exchange.status = response.status_code
        try:
            exchange.response_body = response.json()
        except ValueError:
            exchange.response_body = response.text[:2000]
        self._keep(exchange)
        expect(
            exchange.seconds <= ANSWER_LIMIT_SECONDS,
            f"{method} {path} answered in {exchange.seconds:.2f}s, over {ANSWER_LIMIT_SECONDS}s",
        )
        return exchange

    def _keep(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def take_exchanges(self) -> list[Exchange]:
        with self._lock:
            taken, self.exchanges = self.exchanges, []
        return taken


@dataclass
class Callback:
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)


class CallbackReceiver:
    """A local HTTP server that records the connector's callbacks, keyed by payment id."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, public_host: str | None = None):
        receiver = self
        self.calls: list[Callback] = []
        self._arrived = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                parts = urlsplit(self.path)
                receiver._record(Callback(parts.path, parts.query, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.public_host = public_host or host
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CallbackReceiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url_for(self, payment_id: str) -> str:
        """A callback URL with a signature parameter, as the gateway sends them."""
        return (
            f"http://{self.public_host}:{self.port}/callback/{payment_id}?signature=conformance%3D"
        )

    def _record(self, call: Callback) -> None:
        with self._arrived:
            self.calls.append(call)
            self._arrived.notify_all()

    def wait_for(self, payment_id: str, timeout: float) -> Callback | None:
        """The first callback for ``payment_id``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for call in self.calls:
                    if call.path == f"/callback/{payment_id}":
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._arrived.wait(remaining)
