"""The Flask secret key: from CONNECTOR_SECRET_KEY, or generated once into the instance folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def resolve_secret_key(configured: str | None, instance_path: Path) -> str:
    """The configured key, else the one stored in ``instance/secret_key``, created if missing.

    Creation uses O_EXCL so that workers starting together agree on one key.
    """
    if configured:
        return configured
    path = instance_path / "secret_key"
    instance_path.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
        raise RuntimeError(f"{path} is damaged: delete it or set CONNECTOR_SECRET_KEY") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
