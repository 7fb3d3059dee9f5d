"""The conformance cases: the gateway's homologation suite, and more, as code.

Homologation cases (``homologation``) run in test-suite mode (by card number, no real
credit). Extended cases (``live``) run in live mode against an account the runner opens
through the REST API (or one given with ``--account``), and check the connector's effect
on that account's figures. Importing this module registers both.
"""

from __future__ import annotations

from connector.conformance import compatibility, homologation, live
from connector.conformance.context import CASES, Case
from connector.conformance.harness import CaseFailure

MODULES = (homologation, live, compatibility)  # importing them registers their cases in CASES
__all__ = ["CASES", "select_cases"]


def select_cases(names: list[str] | None) -> list[Case]:
    if not names:
        return list(CASES.values())
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise CaseFailure(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}")
    return [CASES[n] for n in names]
