"""Outbound HTTP, in one place: one session, an explicit timeout on every call, typed errors."""

from __future__ import annotations

from typing import Any

import requests

from connector import jsonio

TIMEOUT_SECONDS = 10.0


class OutboundError(Exception):
    """The remote end could not be reached or did not accept the request."""


class HttpClient:
    def __init__(self, timeout: float = TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self.session = requests.Session()

    def post_json(self, url: str, body: Any, headers: dict[str, str] | None = None) -> int:
        """POST ``body`` as JSON; return the status, raise OutboundError unless it is 2xx."""
        try:
            response = self.session.post(
                url,
                data=jsonio.dumps(body),
                headers={"Content-Type": "application/json", **(headers or {})},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise OutboundError(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise OutboundError(f"HTTP {response.status_code}: {response.text[:200]}")
        return response.status_code

    def close(self) -> None:
        self.session.close()
