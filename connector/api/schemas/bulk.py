"""Bulk CSV's shapes: templates, uploads, imports and their progress."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from connector.api.schemas.common import Query
from connector.bulk.filters import Strict
from connector.bulk.templates import KINDS
from connector.wire import Moment, WholeNumber

DELIMITER = fields.String(
    validate=validate.OneOf(["comma", "semicolon", "tab"]),
    metadata={"description": "comma (default; decimal points) or semicolon (decimal commas)"},
)


class TemplateQuery(Query):
    lang = fields.String(load_default="en", validate=validate.OneOf(["en", "es", "pt"]))
    delimiter = DELIMITER


class ImportListQuery(Query):
    kind = fields.String(validate=validate.OneOf(KINDS))
    page = WholeNumber(load_default=1, validate=validate.Range(min=1, max=10**6))
    perPage = WholeNumber(load_default=50, validate=validate.Range(min=1, max=500))


class ReportQuery(Query):
    delimiter = DELIMITER


class UploadForm(Strict):
    file = fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "the CSV"}
    )
    dryRun = fields.Boolean(
        load_default=False, metadata={"description": "validate every row, write nothing"}
    )


class AccountsUploadForm(UploadForm):
    mode = fields.String(required=True, validate=validate.OneOf(["create", "update"]))


class InvoicesUploadForm(UploadForm):
    mode = fields.String(load_default="update", validate=validate.OneOf(["update"]))


class ImportProgressOut(Schema):
    rowsDone = fields.Integer(required=True)
    rowsTotal = fields.Integer(required=True)
    percent = fields.Integer(required=True)


class ImportCountsOut(Schema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    failed = fields.Integer(required=True)


class ImportLinksOut(Schema):
    self = fields.String(required=True)
    errors = fields.String(required=True)


class ImportJobOut(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    mode = fields.String(required=True)
    dryRun = fields.Boolean(required=True)
    status = fields.String(
        required=True,
        metadata={"description": "queued, running, completed, failed or interrupted"},
    )
    source = fields.String(required=True)
    requestedBy = fields.String(allow_none=True)
    fileName = fields.String(allow_none=True)
    fileSize = fields.Integer(allow_none=True)
    fileSha256 = fields.String(allow_none=True)
    encoding = fields.String(allow_none=True)
    delimiter = fields.String(allow_none=True)
    ignoredColumns = fields.List(fields.String(), required=True)
    progress = fields.Nested(ImportProgressOut, required=True)
    counts = fields.Nested(ImportCountsOut, required=True)
    message = fields.String(allow_none=True)
    createdAt = Moment(required=True)
    startedAt = Moment(allow_none=True)
    finishedAt = Moment(allow_none=True)
    links = fields.Nested(ImportLinksOut, required=True)


class ImportPagingOut(Schema):
    page = fields.Integer(required=True)
    perPage = fields.Integer(required=True)
    total = fields.Integer(required=True)


class ImportPage(Schema):
    data = fields.List(fields.Nested(ImportJobOut), required=True)
    paging = fields.Nested(ImportPagingOut, required=True)
