"""The audit trail."""
from __future__ import annotations

import sys

import click

from . import _px, main


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit trail."""


@audit_group.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Recompute the whole chain; exit 1 at the first altered or missing record."""
    from connector.store.audit import verify
    verdict = verify(_px(ctx))
    if verdict.ok:
        # The head hash is worth writing down elsewhere: with it even a rewrite of the whole
        # chain would show.
        click.echo(f"ok   {verdict.count} records, head {verdict.head}")
        return
    click.echo(f"FAIL record {verdict.seq}: {verdict.problem} "
               f"({verdict.count} records before it are intact)")
    sys.exit(1)
