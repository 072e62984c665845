"""The SMS outbox."""
from __future__ import annotations

import json

import click

from . import _px, main

@main.group("sms")
def sms_group() -> None:
    """The SMS outbox."""


@sms_group.command("list")
@click.option("--to", "to", help="only messages to this mobile")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@click.option("--limit", default=200, show_default=True)
@click.pass_context
def sms_list(ctx: click.Context, to: str | None, as_json: bool, limit: int) -> None:
    """Messages in the outbox, newest first."""
    from .. import notifications
    from ..normalize import mobile
    rows = notifications.listing(_px(ctx), to=mobile(to) or to if to else None, limit=limit)
    if as_json:
        click.echo(json.dumps([{k: r[k] for k in ("id", "to", "text", "kind", "letter", "status",
                                                  "created_at")} for r in rows],
                              ensure_ascii=False, indent=2))
        return
    for r in rows:
        text = r["text"].replace("\n", " / ")
        click.echo(f"{r['id']:>5} {r['created_at'][:19]} {r['to']} {r['kind']:<10} "
                   f"{r['status']:<12} {r['letter'] or '-':<12} {text}")


