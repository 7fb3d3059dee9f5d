"""Bulk import and export: the page that the bulk package's views will fill after the merge.

The CSV templates, imports, history and exports belong to ``connector.bulk`` (another
issue, built in parallel). Until it is wired in, the page says so and links to what exists.
"""

from __future__ import annotations

from connector.web.admin import bp
from connector.web.common import render


@bp.get("/bulk")
def bulk() -> tuple[str, int]:
    return render("admin/bulk.html")
