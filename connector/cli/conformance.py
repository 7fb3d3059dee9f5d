"""``connector conformance``: the protocol's homologation cases against any connector URL."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--url", required=True, help="The connector's base URL.")
@click.option("--app-key", default="", envvar="CONNECTOR_APP_KEY", show_envvar=True)
@click.option("--app-token", default="", envvar="CONNECTOR_APP_TOKEN", show_envvar=True)
@click.option("--case", "cases", multiple=True, help="Run only this case (repeatable).")
@click.option("--account", help="Spend from this account in live cases instead of opening one.")
@click.option(
    "--callback-host",
    default="127.0.0.1",
    show_default=True,
    help="Where the callback receiver listens.",
)
@click.option("--callback-public-host", help="The host the connector calls back (if not the same).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="JUnit XML report.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="JSON report."
)
@click.option("--list", "list_cases", is_flag=True, help="List the cases and exit.")
def conformance(
    url: str,
    app_key: str,
    app_token: str,
    cases: tuple[str, ...],
    account: str | None,
    callback_host: str,
    callback_public_host: str | None,
    junit: Path | None,
    json_path: Path | None,
    list_cases: bool,
) -> None:
    """Check a connector URL against the payment provider protocol; exit 1 on any failure."""
    from connector.conformance import runner
    from connector.conformance.cases import CASES, select_cases
    from connector.conformance.harness import CaseFailure

    if list_cases:
        for case in CASES.values():
            click.echo(f"{case.name:24} {case.group:13} {case.description}")
        return
    try:
        selected = select_cases(list(cases))
    except CaseFailure as exc:
        raise click.UsageError(str(exc)) from exc
    results = runner.run(
        selected,
        url=url,
        app_key=app_key,
        app_token=app_token,
        account_id=account,
        callback_host=callback_host,
        callback_public_host=callback_public_host,
        out=sys.stderr,  # progress: a line per case as it ends
    )
    click.echo(runner.table(results))
    if junit:
        runner.write_junit(results, junit)
    if json_path:
        runner.write_json(results, json_path)
    sys.exit(0 if runner.passed(results) else 1)
