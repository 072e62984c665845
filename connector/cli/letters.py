"""Letters in the staging store."""
from __future__ import annotations

import json

import click

from connector.domain.errors import PishkhanError

from . import _px, explain, main, say


@main.group("letters")
def letters_group() -> None:
    """Letters in the staging store."""


@letters_group.command("show")
@click.argument("code")
@click.pass_context
def letters_show(ctx: click.Context, code: str) -> None:
    """Show a letter's state, numbers, last error and timeline."""
    from connector.letters import usecases as letters
    px = _px(ctx)
    try:
        letter = letters.get(px, code)
    except PishkhanError:
        raise click.ClickException(f"no letter with tracking code {code}") from None
    data = say(letters.view(px, letter))
    data.update(attempts=letter.attempts, last_error=letter.last_error,
                external_id=letter.external_id)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@letters_group.command("retry")
@click.argument("code")
@click.pass_context
def letters_retry(ctx: click.Context, code: str) -> None:
    """Send a failed or dead letter again, with its attempts reset (recorded in the audit)."""
    from connector.operations import dashboard
    try:
        dashboard.retry(_px(ctx), code)
    except PishkhanError as exc:
        raise click.ClickException(explain(exc)) from None
    click.echo(f"letter {code} will be delivered again on the next tick")


