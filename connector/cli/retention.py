"""Retention: destroy what each organization's [retention] table says has been kept long
enough, recording each destruction in the audit chain."""
from __future__ import annotations

import click

from . import _px, main


@main.group("retention")
def retention_group() -> None:
    """Retention periods and the destruction of expired data."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only show what would be destroyed.")
@click.option("--list", "show_letters", is_flag=True,
              help="Also print the tracking code of each letter.")
@click.pass_context
def retention_run(ctx: click.Context, dry_run: bool, show_letters: bool) -> None:
    """Destroy expired drafts, codes, tokens, SMS texts and letters (the worker does this
    daily); with --dry-run nothing changes."""
    from connector.operations import retention
    done = retention.run(_px(ctx), dry_run=dry_run)
    verb = "would go" if dry_run else "destroyed"
    if not done:
        click.echo(f"nothing {'would go' if dry_run else 'to destroy'}: "
                   "everything is within its retention period")
        return
    width = max(len(d.org or "(platform)") for d in done)
    for d in done:
        click.echo(f"{d.org or '(platform)':<{width}}  {d.count:>7}  {d.kind:<15} {verb}  "
                   f"{d.reason}")
        if show_letters and d.items:
            click.echo("    " + " ".join(d.items))
    if not dry_run:
        click.echo("each destruction is in the audit trail (pishkhan audit verify)")
