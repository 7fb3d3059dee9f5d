"""The pages' words in Spanish and Portuguese, keyed by their English text.

A test checks that every text the templates and views translate is here in both.
"""

from __future__ import annotations

ES: dict[str, str] = {}
PT: dict[str, str] = {}

CATALOG: dict[str, dict[str, str]] = {"es": ES, "pt": PT}
