"""The SMS outbox."""
from __future__ import annotations

import json

import click

import messages

from . import _px, explain, main


@main.group("sms")
def sms_group() -> None:
    """The SMS outbox."""


@sms_group.command("list")
@click.option("--to", "to", help="only messages to this mobile")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@click.option("--limit", default=200, show_default=True)
@click.pass_context
def sms_list(ctx: click.Context, to: str | None, as_json: bool, limit: int) -> None:
    """Messages in the outbox, newest first, with the parts (segments) each one costs."""
    from connector.domain.normalize import mobile
    from connector.outbox import sms as sms_outbox
    rows = sms_outbox.listing(_px(ctx), to=mobile(to) or to if to else None, limit=limit)
    if as_json:
        click.echo(json.dumps([{k: r[k] for k in ("id", "to", "text", "kind", "letter", "status",
                                                  "created_at")} for r in rows],
                              ensure_ascii=False, indent=2))
        return
    for r in rows:
        text = r["text"].replace("\n", " / ")
        click.echo(f"{r['id']:>5} {r['created_at'][:19]} {r['to']} {r['kind']:<10} "
                   f"{r['status']:<17} {r['segments']}p {r['gateway'] or '-':<12} "
                   f"{r['letter'] or '-':<12} {text}")
        if r["last_error"] and r["status"] != "delivered":
            click.echo(f"{'':>6}└ {r['last_error']}")


@sms_group.command("send-test")
@click.argument("org")
@click.argument("mobile")
@click.option("--gateway", help="only this gateway of the organization (its name)")
@click.pass_context
def sms_send_test(ctx: click.Context, org: str, mobile: str, gateway: str | None) -> None:
    """Send a test SMS now through ORG's gateways (quiet hours and limits do not apply)."""
    from connector.domain.errors import NotFound, ValidationError
    from connector.domain.normalize import mobile as normalize_mobile
    from connector.outbox import sms as sms_outbox
    from connector.store.db import transaction
    px = _px(ctx)
    to = normalize_mobile(mobile)
    if to is None:
        raise click.BadParameter(f"{mobile!r} is not an Iranian mobile number", param_hint="MOBILE")
    try:
        names = [g.name for g in px.sms_policy(org).gateways]
    except NotFound:
        raise click.BadParameter(f"no organization {org!r}", param_hint="ORG") from None
    if gateway and gateway not in names:
        raise click.BadParameter(f"{org} has no gateway {gateway!r}; it has: {', '.join(names)}",
                                 param_hint="--gateway")
    with transaction(px.sessions) as s:
        note = sms_outbox.queue(s, px, "test", to, {}, org=org)
        s.flush()
        note_id, segments = note.id, note.segments
    try:
        state = sms_outbox.dispatch_one(px, note_id, gateway)
    except ValidationError as exc:
        raise click.ClickException(explain(exc)) from None
    row = next(r for r in sms_outbox.listing(px, to=to, limit=20) if r["id"] == note_id)
    click.echo(f"sms {note_id}: {state} via {row['gateway'] or '-'} "
               f"(provider id {row['provider_message_id'] or '-'}, {segments} part(s))")
    if row["last_error"]:
        click.echo(f"  {row['last_error']}")
    if state in ("created", "technical-failure", "permanent-failure"):
        ctx.exit(1)


@sms_group.command("retry")
@click.argument("note_id", metavar="ID", type=int)
@click.pass_context
def sms_retry(ctx: click.Context, note_id: int) -> None:
    """Queue a message that failed to be sent again, under a new reference."""
    from connector.domain.errors import NotFound, ValidationError
    from connector.outbox import sms_status
    try:
        sms_status.retry(_px(ctx), note_id)
    except NotFound:
        raise click.ClickException(f"no SMS with id {note_id}") from None
    except ValidationError as exc:
        raise click.ClickException(explain(exc)) from None
    click.echo(f"sms {note_id} is queued again")


@sms_group.command("receive")
@click.argument("org")
@click.argument("sender", metavar="FROM_MOBILE")
@click.argument("text")
@click.pass_context
def sms_receive(ctx: click.Context, org: str, sender: str, text: str) -> None:
    """A citizen's text to ORG's line, through the file gateway's inbox (development and
    demos); it is read, recorded and answered at once, as the worker would."""
    from connector.domain.errors import NotFound
    from connector.outbox import inbound
    px = _px(ctx)
    try:
        policy = px.sms_policy(org)
    except NotFound:
        raise click.BadParameter(f"no organization {org!r}", param_hint="ORG") from None
    gateways = [px.gateway(org, g.name) for g in policy.gateways]
    simulator = next((g for g in gateways if hasattr(g, "simulate_inbound")), None)
    if simulator is None:
        raise click.ClickException(
            f"{org} has no file gateway: only the file gateway can simulate an inbound text")
    provider_id = simulator.simulate_inbound(sender, text)  # type: ignore[attr-defined]
    for outcome in inbound.poll_org(px, org):
        if outcome.inbound_id is None:
            continue
        row = next((r for r in inbound.listing(px, org, limit=50)
                    if r["id"] == outcome.inbound_id), None)
        locale = px.settings.cli_lang
        mine = (messages.render("cli.inbound.mine", locale)
                if row and row["provider_id"] == provider_id else "")
        answer = messages.render(f"cli.inbound.{outcome.answer or 'none'}", locale)
        click.echo(messages.render("cli.inbound", locale, id=outcome.inbound_id, mine=mine,
                                   answer=answer))
