"""VTEX's published OpenAPI documents as a contract: does an answer fit what they say?

The documents are read at run time from ``../shared/vtex-openapi/`` beside the project's root
(CI has it too); they are VTEX's, so they are never copied into the project.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "vtex-openapi"
PROTOCOL = "VTEX - Payment Provider Protocol.json"
CUSTOMER_CREDIT = "VTEX - Customer Credit API.json"
_ROOT = "urn:vtex-document"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]


class Document:
    """One published document: its operations, and a check of an answer against them."""

    def __init__(self, name: str) -> None:
        path = SHARED / name
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: the contract tests read VTEX's documents there"
            )
        self.name = name
        self.spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.registry: Registry[Any] = Registry().with_resource(
            _ROOT, Resource.from_contents(self.spec, default_specification=DRAFT4)
        )
        self.operations = [
            Operation(method.upper(), template, _pattern(template), spec)
            for template, item in self.spec["paths"].items()
            for method, spec in item.items()
            if isinstance(spec, dict) and "responses" in spec
        ]

    def operation(self, method: str, path: str) -> Operation:
        """The operation a request's method and path (query string ignored) stand for."""
        path = path.split("?", 1)[0]
        found = [
            op
            for op in self.operations
            if op.method == method.upper() and op.pattern.fullmatch(path)
        ]
        # The most literal template wins (``/accounts/{id}`` before ``/{a}/{b}``).
        found.sort(key=lambda op: op.template.count("{"))
        if not found:
            raise AssertionError(f"{self.name} has no operation {method} {path}")
        return found[0]

    def schema(self, method: str, path: str, status: int) -> str | None:
        """Where in the document the answer's JSON schema is (a JSON pointer); None when
        the documented answer has no body."""
        op = self.operation(method, path)
        answer = op.spec["responses"].get(str(status))
        if answer is None:
            raise AssertionError(
                f"{method} {op.template} answered {status}; {self.name} lists "
                f"{sorted(op.spec['responses'])}"
            )
        for media, content in answer.get("content", {}).items():
            if media.startswith("application/json") and "schema" in content:
                steps = ["paths", op.template, op.method.lower(), "responses", str(status)]
                return "/" + "/".join(_escape(s) for s in [*steps, "content", media, "schema"])
        return None

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        """Fail with every schema error unless the answer is one the document describes."""
        pointer = self.schema(method, path, status)
        if pointer is None:
            assert body is None, f"{method} {path} {status}: a body where the document has none"
            return
        validator = OAS30Validator({"$ref": f"{_ROOT}#{pointer}"}, registry=self.registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [
                f"  {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors
            ]
            raise AssertionError(
                f"{method} {path} {status} does not fit {self.name}:\n" + "\n".join(lines)
            )


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


def _escape(step: str) -> str:
    return step.replace("~", "~0").replace("/", "~1")


@cache
def document(name: str) -> Document:
    return Document(name)
