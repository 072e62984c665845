"""The database, organization files and adapter checks."""
from __future__ import annotations

import sys
from typing import Any

import click

from connector.bootstrap import check_plugins
from connector.domain.errors import ConfigurationError, ExternalError, PishkhanError
from connector.plugins import registry

from . import _px, main


@main.group("db")
def db_group() -> None:
    """The staging store."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the database schema to the newest version."""
    from connector.store import db
    db.upgrade(ctx.obj["settings"].database_url)
    click.echo("database is up to date")


@main.group("config")
def config_group() -> None:
    """Organization files."""


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate every organization file; exit 1 if anything is wrong."""
    px = _px(ctx)
    problems = list(px.problems) + check_plugins(px)
    failed = {p.file for p in problems}
    for slug, org in sorted(px.orgs.items()):
        if str(org.path) in failed:
            continue
        click.echo(f"ok   {slug}: {org.name} ({org.path.name}, adapter {org.adapter.type}, "
                   f"approval {org.approval})")
    for problem in problems:
        click.echo(f"FAIL {problem}")
    sys.exit(1 if problems else 0)


def _option_models(group: str) -> dict[str, Any]:
    """The options model each installed plugin declares (``options_model``), by name; a plugin
    that declares none, or cannot be imported here (pyodbc missing), keeps its options open."""
    from connector.plugins import registry
    found = {}
    for name in registry.names(group):
        try:
            model = getattr(registry.load(group, name), "options_model", None)
        except ConfigurationError:
            continue
        if model is not None:
            found[name] = model
    return found


@config_group.command("schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="write to this file (default: print it)")
def config_schema(output: str | None) -> None:
    """The JSON Schema of the organization file, for an editor to complete and check it."""
    import json

    from connector.config.orgfile import json_schema
    from connector.plugins import registry
    text = json.dumps(json_schema(adapters=_option_models(registry.ADAPTERS),
                                  gateways=_option_models(registry.SMS_GATEWAYS)),
                      ensure_ascii=False, indent=2) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@main.group("adapter")
def adapter_group() -> None:
    """Correspondence-system adapters."""


@adapter_group.command("check")
@click.argument("org")
@click.option("--exchange", is_flag=True,
              help="Also print the last request and response (secrets masked).")
@click.pass_context
def adapter_check(ctx: click.Context, org: str, exchange: bool) -> None:
    """Check an organization's system: configuration, what it offers (WSDL operations or
    database tables), reaching and signing in, and a dry-run look-up. One line per check; exit
    1 if any fails."""
    from connector.operations.dashboard import connection_check
    px = _px(ctx)
    result = connection_check(px, org)  # the same check as the admin's «آزمایش اتصال»
    for line in result.lines:
        click.echo(line)
    if exchange and org in px.orgs and result.checks[0].ok:
        request, response = px.adapter(org).last_exchange()
        click.echo(f"--- last request\n{request or '(none)'}\n--- last response\n"
                   f"{response or '(none)'}")
    sys.exit(0 if result.ok else 1)


@adapter_group.command("draft")
@click.argument("wsdl_url")
@click.option("--type", "kind", default="soap", show_default=True,
              help="The adapter whose profile to draft.")
def adapter_draft(wsdl_url: str, kind: str) -> None:
    """Print a commented profile skeleton for a vendor's WSDL: every operation with its fields,
    a [session] block where one looks like a login. Save it, complete it, and point an
    organization's adapter.profile at the file (docs/adapters.md)."""
    try:
        factory = registry.load(registry.ADAPTERS, kind)
        make = getattr(factory, "draft", None)
        if make is None:
            raise PishkhanError(f"the {kind} adapter cannot draft a profile")
        click.echo(make(wsdl_url), nl=False)
    except (ExternalError, PishkhanError) as exc:
        click.echo(f"FAIL {getattr(exc, 'detail', exc)}", err=True)
        sys.exit(1)
