"""``/api/docs``: the OpenAPI document as one plain HTML page, rendered on the server.

Operations grouped by tag behind a table of contents; each with its credentials,
parameters, body fields (required ones marked), answers and real exchanges as examples;
then every schema. No script and nothing fetched, so it reads the same offline and on a
phone (``templates/api_docs.html``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from connector import jsonio
from connector.access.principals import roles_that_may

_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Field:
    name: str
    type: Markup
    required: bool
    description: Markup
    where: str = ""  # a parameter's place: path, query, header


@dataclass(frozen=True)
class Answer:
    status: str
    phrase: str
    description: Markup
    body: Markup


@dataclass(frozen=True)
class Exchange:
    title: str
    request: str  # the request line
    body: str | None
    status: str
    answer: str | None


@dataclass(frozen=True)
class Callback:
    name: str
    method: str
    url: str
    summary: str
    description: Markup
    body: Markup


@dataclass
class Operation:
    id: str
    method: str
    path: str
    summary: str
    description: Markup
    access: Markup
    parameters: list[Field]
    body: Markup
    body_media: str
    body_fields: list[Field]
    answers: list[Answer]
    examples: list[Exchange]
    callbacks: list[Callback]


@dataclass
class Tag:
    id: str
    name: str
    description: Markup
    operations: list[Operation] = field(default_factory=list)


@dataclass(frozen=True)
class SchemaView:
    name: str
    fields: list[Field]


def text(value: str | None) -> Markup:
    """Plain text as HTML paragraphs, with `code` spans."""
    paragraphs = [p for p in re.split(r"\n\s*\n", (value or "").strip()) if p]
    return Markup("").join(
        Markup("<p>{}</p>").format(_inline(" ".join(p.split()))) for p in paragraphs
    )


def _inline(value: str) -> Markup:
    pieces = _CODE.split(value)  # text, code, text, ...
    return Markup("").join(
        Markup("<code>{}</code>").format(piece) if odd % 2 else escape(piece)
        for odd, piece in enumerate(pieces)
    )


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: dict[str, Any] | None) -> Markup:
    """A schema's type in words: links to named schemas, formats, null, choices, bounds."""
    if not schema:
        return Markup("any")
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    for combined in ("oneOf", "anyOf"):
        if combined in schema:
            # marshmallow's nullable nested schema: {"type": "object", "nullable": true} beside it
            null = {"type": "object", "nullable": True}
            shown = Markup(" or ").join(type_of(s) for s in schema[combined] if s != null)
            return shown + Markup(" or null") if null in schema[combined] else shown
    if schema.get("type") == "array":
        shown = Markup("array of {}").format(type_of(schema.get("items")))
    elif schema.get("type") == "object" and "additionalProperties" in schema:
        shown = Markup("object of {}").format(type_of(schema["additionalProperties"] or None))
    else:
        shown = Markup("{}").format(schema.get("type", "any"))
        if "format" in schema:
            shown += Markup(" <small>({})</small>").format(schema["format"])
    notes = _constraints(schema)
    if notes:
        shown += Markup(' <span class="notes">{}</span>').format("; ".join(notes))
    if schema.get("nullable"):
        shown += Markup(" or null")
    return shown


def _constraints(schema: dict[str, Any]) -> list[str]:
    notes = []
    if "enum" in schema:
        notes.append("one of " + ", ".join(jsonio.dumps(v) for v in schema["enum"]))
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        notes.append(f"{low} to {high}" if low != high else f"always {low}")
    elif low is not None:
        notes.append(f"at least {low}")
    elif high is not None:
        notes.append(f"at most {high}")
    if "maxLength" in schema:
        notes.append(f"at most {schema['maxLength']} characters")
    if schema.get("default") is not None:
        notes.append("default " + jsonio.dumps(schema["default"]))
    return notes


def _fields(schema: dict[str, Any], document: dict[str, Any]) -> list[Field]:
    """The properties of a schema (named or inline), required ones first as declared."""
    if "$ref" in schema:
        schema = document["components"]["schemas"][_ref_name(schema["$ref"])]
    required = set(schema.get("required", []))
    return [
        Field(name, type_of(prop), name in required, text(prop.get("description")))
        for name, prop in schema.get("properties", {}).items()
    ]


def _parameter(parameter: dict[str, Any]) -> Field:
    return Field(
        parameter["name"],
        type_of(parameter.get("schema")),
        bool(parameter.get("required")),
        text(parameter.get("description")),
        parameter["in"],
    )


def _access(op: dict[str, Any], document: dict[str, Any]) -> Markup:
    if op.get("security", document.get("security")) == []:
        return Markup("Public: no credentials")
    permission = op.get("x-permission", "")
    roles = ", ".join(roles_that_may(permission))
    return Markup("Permission <code>{}</code>: the roles {} and the configured pair").format(
        permission, roles
    )


def _media(part: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    content = part.get("content", {})
    media = next(iter(content), "")
    schema: dict[str, Any] = content.get(media, {}).get("schema", {})
    return media, schema


def phrase(status: int) -> str:
    """The reason phrase of a status, or nothing for a status HTTP does not name."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return jsonio.dumps(value, indent=2, ensure_ascii=False)


def _exchange(recorded: dict[str, Any]) -> Exchange:
    body = recorded.get("body")
    form = recorded.get("form")
    shown = _pretty(body) if body is not None else None
    if form is not None:
        shown = "\n".join(f"{name}: {value}" for name, value in form.items())
    answer = recorded.get("answer")
    return Exchange(
        title=recorded["title"],
        request=f"{recorded['method']} {recorded['path']}",
        body=shown,
        status=f"{recorded['status']} {phrase(recorded['status'])}".strip(),
        answer=None if answer is None else _pretty(answer),
    )


def _callbacks(op: dict[str, Any]) -> list[Callback]:
    found = []
    for name, expressions in op.get("callbacks", {}).items():
        for url, methods in expressions.items():
            for method, callback in methods.items():
                _, schema = _media(callback.get("requestBody", {}))
                found.append(
                    Callback(
                        name,
                        method.upper(),
                        url,
                        callback.get("summary", ""),
                        text(callback.get("description")),
                        type_of(schema),
                    )
                )
    return found


def _operation(path: str, method: str, op: dict[str, Any], document: dict[str, Any]) -> Operation:
    media, body = _media(op.get("requestBody", {}))
    return Operation(
        id=op["operationId"],
        method=method.upper(),
        path=path,
        summary=op.get("summary", ""),
        description=text(op.get("description")),
        access=_access(op, document),
        parameters=[_parameter(p) for p in op.get("parameters", [])],
        body=type_of(body) if body else Markup(""),
        body_media=media,
        body_fields=_fields(body, document) if body else [],
        answers=[
            Answer(
                status,
                phrase(int(status)),
                text(answer.get("description")),
                type_of(_media(answer)[1]) if answer.get("content") else Markup("no body"),
            )
            for status, answer in op["responses"].items()
        ],
        examples=[_exchange(e) for e in op.get("x-examples", [])],
        callbacks=_callbacks(op),
    )


def _tags(document: dict[str, Any]) -> list[Tag]:
    tags = {
        t["name"]: Tag("tag-" + _slug(t["name"]), t["name"], text(t.get("description")))
        for t in document.get("tags", [])
    }
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for name in op.get("tags", ["Other"]):
                tag = tags.setdefault(name, Tag("tag-" + _slug(name), name, Markup("")))
                tag.operations.append(_operation(path, method, op, document))
    return [tag for tag in tags.values() if tag.operations]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("connector.api", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(document: dict[str, Any]) -> str:
    """The page of a document."""
    schemas = [
        SchemaView(name, _fields(schema, document))
        for name, schema in document["components"]["schemas"].items()
    ]
    schemes = document["components"].get("securitySchemes", {})
    pairs = [
        [schemes[name]["name"] for name in alternative]
        for alternative in document.get("security", [])
    ]
    return (
        _environment()
        .get_template("api_docs.html")
        .render(
            title=document["info"]["title"],
            intro=text(document["info"].get("description")),
            credentials=pairs,
            tags=_tags(document),
            schemas=schemas,
        )
    )
