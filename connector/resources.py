"""Files shipped beside the package: the migrations and the manifest.

In a checkout (or an editable install) they sit at the project's root; a wheel carries
them inside the package as ``_migrations`` and ``_manifest.json``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(root_name: str, packaged_name: str) -> Path:
    for candidate in (_PACKAGE.parent / root_name, _PACKAGE / packaged_name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{root_name} is missing from this installation")


def migrations_path() -> Path:
    return _find("migrations", "_migrations")


def manifest_path() -> Path:
    return _find("manifest.json", "_manifest.json")
