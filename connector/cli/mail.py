"""The e-mail outbox."""
from __future__ import annotations

import json

import click

from connector.outbox.mail import STATES

from . import _px, main


@main.group("mail")
def mail_group() -> None:
    """The e-mail outbox."""


@mail_group.command("list")
@click.option("--to", "to", metavar="ADDRESS", help="only e-mails to this address")
@click.option("--state", type=click.Choice(STATES), help="only e-mails in this state")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@click.option("--body", is_flag=True, help="also print each e-mail's plain text")
@click.option("--limit", default=200, show_default=True)
@click.pass_context
def mail_list(ctx: click.Context, to: str | None, state: str | None, as_json: bool,
              body: bool, limit: int) -> None:
    """E-mails in the outbox, newest first: state, kind, letter, attempts and the last error
    (the SMTP sign-in secrets never appear, even inside a server's answer)."""
    from connector.outbox import mail as mail_outbox
    rows = mail_outbox.listing(_px(ctx), to=to, state=state, limit=limit, body=body)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:>5} {r['created_at'][:19]} {r['to']} {r['kind']:<20} "
                   f"{r['status']:<8} {r['attempts']}x {r['letter'] or '-':<12} {r['subject']}")
        if r["last_error"] and r["status"] != "sent":
            click.echo(f"{'':>6}└ {r['last_error']}")
        if body:
            for line in r["text"].splitlines():
                click.echo(f"{'':>6}│ {line}")
