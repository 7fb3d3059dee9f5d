"""Run the selected cases and report them: a table, JUnit XML and JSON."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from connector.conformance.context import Case, CaseSkipped, Context
from connector.conformance.harness import CallbackReceiver, CaseFailure, Client

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class CaseResult:
    name: str
    group: str
    description: str
    result: str
    seconds: float
    message: str = ""
    evidence: list[str] = field(default_factory=list)  # the exchanges, on failure


def run_case(case: Case, ctx: Context) -> CaseResult:
    ctx.client.take_exchanges()
    started = time.monotonic()
    result, message = PASSED, ""
    try:
        case.run(ctx)
    except CaseSkipped as skip:
        result, message = SKIPPED, str(skip)
    except CaseFailure as failure:
        result, message = FAILED, str(failure)
    except Exception as error:  # a crash of the runner is reported, not raised
        result, message = FAILED, f"{type(error).__name__}: {error}"
    seconds = time.monotonic() - started
    exchanges = ctx.client.take_exchanges()
    evidence = [e.describe() for e in exchanges[-3:]] if result == FAILED else []
    return CaseResult(case.name, case.group, case.description, result, seconds, message, evidence)


def run(
    cases: list[Case],
    *,
    url: str,
    app_key: str,
    app_token: str,
    account_id: str | None = None,
    callback_host: str = "127.0.0.1",
    callback_public_host: str | None = None,
    out: TextIO | None = None,
) -> list[CaseResult]:
    """Run ``cases`` in order against the connector at ``url``."""
    client = Client(url, app_key, app_token)
    results = []
    with CallbackReceiver(callback_host, 0, callback_public_host) as receiver:
        ctx = Context(client, receiver, account_id)
        for case in cases:
            result = run_case(case, ctx)
            results.append(result)
            if out is not None:
                out.write(_line(result) + "\n")
                out.flush()
    return results


_MARK = {PASSED: "PASS", FAILED: "FAIL", SKIPPED: "SKIP"}


def _line(result: CaseResult) -> str:
    return f"{_MARK[result.result]:4}  {result.name:24} {result.seconds:7.2f}s  {result.message}"


def table(results: list[CaseResult]) -> str:
    """The results as a table, with the evidence of each failure below it."""
    lines = [f"{'':4}  {'case':24} {'time':>8}  detail", "-" * 72]
    lines += [_line(r) for r in results]
    failed = [r for r in results if r.result == FAILED]
    for result in failed:
        lines += ["", f"== {result.name}: {result.message}", *result.evidence]
    counts = {k: sum(r.result == k for r in results) for k in (PASSED, FAILED, SKIPPED)}
    lines += ["", f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[SKIPPED]} skipped"]
    return "\n".join(lines)


def write_junit(results: list[CaseResult], path: Path) -> None:
    suite = ET.Element(
        "testsuite",
        name="connector-conformance",
        tests=str(len(results)),
        failures=str(sum(r.result == FAILED for r in results)),
        skipped=str(sum(r.result == SKIPPED for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for result in results:
        node = ET.SubElement(
            suite,
            "testcase",
            classname=result.group,
            name=result.name,
            time=f"{result.seconds:.3f}",
        )
        if result.result == FAILED:
            failure = ET.SubElement(node, "failure", message=result.message)
            failure.text = "\n\n".join(result.evidence)
        elif result.result == SKIPPED:
            ET.SubElement(node, "skipped", message=result.message)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def write_json(results: list[CaseResult], path: Path) -> None:
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


def passed(results: list[CaseResult]) -> bool:
    return all(r.result != FAILED for r in results)
