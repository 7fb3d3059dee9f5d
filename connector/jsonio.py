"""JSON with exact decimals: numbers parse to Decimal, Decimals dump as numbers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import simplejson


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(obj: Any, **kwargs: Any) -> str:
    kwargs.setdefault("use_decimal", True)
    kwargs.setdefault("default", _default)
    return simplejson.dumps(obj, **kwargs)


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """Parse JSON; a document nested deeper than the parser recurses is a ValueError,
    like any other malformed one, so every caller answers it as a bad request."""
    kwargs.setdefault("use_decimal", True)
    try:
        return simplejson.loads(s, **kwargs)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
