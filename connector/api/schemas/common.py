"""Shapes every operation shares: strict queries and bodies, paging, counts, errors.

Requests are strict (``unknown = RAISE``) except for the fields the public API documents
and no longer uses, which are accepted and ignored. Responses are dumped through the
schemas too, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, validate

from connector.bulk.filters import Strict
from connector.wire import WholeNumber

MAX_PAGE = 1000
MAX_POSITION = 10**9  # keeps an offset inside every database's integers
DEFAULT_PAGE = 20


class Query(Strict):
    """Query parameters: an unknown one is an error, never silently ignored."""


class Body(Strict):
    """A JSON request body."""


# --- paging and search --------------------------------------------------------------


class Paging(Query):
    """``from``/``to``: 1-based positions, both included (``from=1&to=20`` is 20 rows).

    At most MAX_PAGE rows come back at once.
    """

    from_ = WholeNumber(
        data_key="from",
        load_default=1,
        validate=validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "position of the first row, from 1 (0 is read as 1)"},
    )
    to = WholeNumber(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_POSITION),
        metadata={
            "description": f"position of the last row, included (default from + {DEFAULT_PAGE - 1})"
        },
    )


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def page_of(data: dict[str, Any]) -> Page:
    """Rows ``from``..``to``; a page longer than MAX_PAGE rows is cut to MAX_PAGE, and a
    ``to`` before ``from`` is an empty page (``summary.count`` still tells the total)."""
    first = max(data.get("from_", 1), 1)
    last = data.get("to") or first + DEFAULT_PAGE - 1
    return Page(offset=first - 1, limit=max(0, min(last - first + 1, MAX_PAGE)))


class CountSummary(Schema):
    count = fields.Integer(required=True)


class IdOut(Schema):
    id = fields.String(required=True)


class ErrorBody(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "each bad field and why"},
    )


class ErrorOut(Schema):
    error = fields.Nested(ErrorBody, required=True)
