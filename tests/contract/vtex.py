"""VTEX's published OpenAPI documents as a contract: does an answer fit what they say?

The documents are read at run time from ``../shared/vtex-openapi/`` beside the project's root
(CI has it too); they are VTEX's, so they are never copied into the project.

Where a document contradicts itself, the check reads it as ``ERRATA`` says: each erratum
names the schema it corrects and the document's own example that the schema as written
refuses (``tests/contract/test_errata.py`` proves both), and the README's "Where VTEX's
documents contradict themselves" gives the reading.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

ROOT = Path(__file__).resolve().parents[2]


def _shared() -> Path:
    """``../shared/vtex-openapi`` beside the project's root; for a clone made elsewhere (a
    scratch copy to run CI in), beside the root of the checkout it was cloned from."""
    beside = ROOT.parent / "shared" / "vtex-openapi"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        return Path(origin).resolve().parent / "shared" / "vtex-openapi"
    return beside


SHARED = _shared()
PROTOCOL = "VTEX - Payment Provider Protocol.json"
CUSTOMER_CREDIT = "VTEX - Customer Credit API.json"
_ROOT = "urn:vtex-document"


@dataclass(frozen=True)
class Erratum:
    """A self-contradiction of a document and the reading the check follows.

    ``changes`` sets keys on schema nodes (JSON pointers). ``example`` points at the
    document's own example that contradicts the schema, and ``answer`` at the schema of
    the answer that example must fit once corrected.
    """

    why: str
    changes: dict[str, dict[str, Any]]
    example: str
    answer: str


_ACCOUNT_INVOICES = "/paths/~1api~1creditcontrol~1accounts~1{creditAccountId}~1invoices/get"
_JSON = "responses/200/content/application~1json"

ERRATA: dict[str, list[Erratum]] = {
    PROTOCOL: [
        Erratum(
            why="authorizationId is required and not nullable, yet its own description says "
            "it is absent or null unless the payment is approved, and the PIX example "
            "(undefined) answers null",
            changes={
                "/components/schemas/Success-Approved/properties/authorizationId": {
                    "nullable": True
                }
            },
            example="/paths/~1payments/post/responses/200/content/application~1json/examples"
            "/Success - PIX/value",
            answer="/components/schemas/Success-Approved",
        ),
    ],
    CUSTOMER_CREDIT: [
        Erratum(
            why="an account's invoice search types totalPaid and totalCancelled as integers, "
            "where the search of every invoice, its example (5.01, 1.21) and their text (sums "
            "of invoice values, which have cents) make them numbers",
            changes={
                f"{_ACCOUNT_INVOICES}/{_JSON}/schema/properties/summary/properties/{name}": {
                    "type": "number"
                }
                for name in ("totalPaid", "totalCancelled")
            },
            example=f"/paths/~1api~1creditcontrol~1invoices/get/{_JSON}/example",
            answer=f"{_ACCOUNT_INVOICES}/{_JSON}/schema",
        ),
    ],
}


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
        self.published: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.errata = ERRATA.get(name, [])
        self.spec = copy.deepcopy(self.published)
        for erratum in self.errata:
            for pointer, change in erratum.changes.items():
                node = resolve(self.spec, pointer)
                assert isinstance(node, dict), f"{name}: no schema at {pointer}"
                node.update(change)
        self.registry = _registry(self.spec)
        self.published_registry = _registry(self.published)
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
        errors = self.errors(pointer, body)
        if errors:
            raise AssertionError(
                f"{method} {path} {status} does not fit {self.name}:\n" + "\n".join(errors)
            )

    def errors(self, pointer: str, instance: Any, *, published: bool = False) -> list[str]:
        """Each way ``instance`` breaks the schema at ``pointer``: as corrected by the
        errata, or with ``published`` as the document writes it."""
        registry = self.published_registry if published else self.registry
        validator = OAS30Validator({"$ref": f"{_ROOT}#{pointer}"}, registry=registry)
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"  {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


def resolve(spec: dict[str, Any], pointer: str) -> Any:
    """The node a JSON pointer names in a document."""
    node: Any = spec
    for step in pointer.lstrip("/").split("/"):
        node = node[step.replace("~1", "/").replace("~0", "~")]
    return node


def _registry(spec: dict[str, Any]) -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(spec, default_specification=DRAFT4)
    registry: Registry[Any] = Registry().with_resource(_ROOT, resource)
    return registry


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


def _escape(step: str) -> str:
    return step.replace("~", "~0").replace("/", "~1")


@cache
def document(name: str) -> Document:
    return Document(name)
