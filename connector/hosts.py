"""Only the hosts the operator named: a request whose ``Host`` is not one of them is refused
before any edge sees it.

Links the service hands out (My Credits links, sign-in mails) take ``CONNECTOR_PUBLIC_URL``
or else the request's host; an unchecked ``Host`` header would let anyone have a
customer mailed a sign-in link to their own site. The check stands in front of
everything, the express entrance included, so every edge relies on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.sansio.utils import host_is_trusted

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_REFUSED = b"400 Bad Request: this service does not answer for that host name\n"


class TrustedHosts:
    """WSGI: answer 400 to a request naming a host outside ``allowed`` (``*``: any)."""

    def __init__(self, following: WSGIApplication, allowed: Iterable[str]) -> None:
        self.following = following
        self.allowed = [name for name in allowed if name != "*"]
        self.any = "*" in allowed

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if self.any or host_is_trusted(host, self.allowed):
            return self.following(environ, start_response)
        start_response(
            "400 Bad Request",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(_REFUSED)))],
        )
        return [_REFUSED]
