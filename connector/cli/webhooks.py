"""Webhook subscriptions and their outbox."""
from __future__ import annotations

import json

import click

import messages

from . import _px, explain, main


@main.group("webhooks")
def webhooks_group() -> None:
    """Push notifications (CloudEvents, HMAC-signed) to integrators' endpoints."""


@webhooks_group.command("add")
@click.argument("org")
@click.argument("url")
@click.option("--secret-env", required=True,
              help="the environment variable that holds the signing secret (not the secret)")
@click.option("--types", default="*", show_default=True,
              help="comma-separated event types, e.g. ir.pishkhan.letter.registered "
                   "(`pishkhan webhooks types` lists them)")
@click.pass_context
def webhooks_add(ctx: click.Context, org: str, url: str, secret_env: str, types: str) -> None:
    """Send ORG's events to URL; prints the subscription's id."""
    from connector.domain.errors import NotFound, ValidationError
    from connector.outbox import webhooks
    px = _px(ctx)
    try:
        sub = webhooks.subscribe(px, org, url, secret_env, types.split(","))
    except NotFound:
        raise click.BadParameter(f"no organization {org!r}", param_hint="ORG") from None
    except ValidationError as exc:
        raise click.UsageError(explain(exc).replace("; ", "\n")) from None
    if not px.settings.env.get(secret_env):
        click.echo(messages.render("cli.webhooks.no_secret", px.settings.cli_lang,
                                   env=secret_env), err=True)
    click.echo(sub.id)


@webhooks_group.command("list")
@click.argument("org", required=False)
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@click.pass_context
def webhooks_list(ctx: click.Context, org: str | None, as_json: bool) -> None:
    """Subscriptions (of ORG, or all), with how their events stand."""
    from connector.outbox import webhooks
    from connector.outbox.webhook_http import shown
    px = _px(ctx)
    rows = [{"id": s.id, "org": s.org, "url": shown(s.url), "secret_env": s.secret_env,
             "types": s.types, "active": s.active} for s in webhooks.subscriptions(px, org)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{row['id']:>4} {row['org']:<12} {row['url']}  secret: ${row['secret_env']}"
                   f"  types: {','.join(row['types'])}")
    for slug in sorted({r["org"] for r in rows}):
        counts = webhooks.summary(px, slug)
        click.echo(f"{slug}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@webhooks_group.command("remove")
@click.argument("subscription_id", type=int)
@click.pass_context
def webhooks_remove(ctx: click.Context, subscription_id: int) -> None:
    """Stop sending to a subscription (its queued events go with it)."""
    from connector.domain.errors import NotFound
    from connector.outbox import webhooks
    try:
        webhooks.unsubscribe(_px(ctx), subscription_id)
    except NotFound:
        raise click.BadParameter(f"no subscription {subscription_id}") from None
    click.echo(f"removed {subscription_id}")


@webhooks_group.command("retry")
@click.argument("event_id", type=int)
@click.pass_context
def webhooks_retry(ctx: click.Context, event_id: int) -> None:
    """Send a dead event again (its attempts start from zero)."""
    from connector.domain.errors import NotFound
    from connector.outbox import webhooks
    try:
        webhooks.retry(_px(ctx), event_id)
    except NotFound as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(f"queued {event_id}")


@webhooks_group.command("types")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
def webhooks_types(as_json: bool) -> None:
    """The event types a subscription may ask for (the OpenAPI document describes their data)."""
    from connector.outbox.webhook_types import REGISTRY
    if as_json:
        click.echo(json.dumps([{"type": t.name, "about": t.about, "subject": t.subject}
                               for t in REGISTRY.values()], indent=2))
        return
    width = max(len(name) for name in REGISTRY)
    for t in REGISTRY.values():
        click.echo(f"{t.name:<{width}}  {t.about}")
