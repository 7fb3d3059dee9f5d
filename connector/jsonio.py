"""JSON with exact decimals: numbers in requests parse to Decimal, Decimals dump as numbers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import simplejson
from flask.json.provider import JSONProvider


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
    kwargs.setdefault("use_decimal", True)
    return simplejson.loads(s, **kwargs)


class DecimalJSONProvider(JSONProvider):
    """Flask's JSON provider with ``use_decimal``: a float never carries money."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)
