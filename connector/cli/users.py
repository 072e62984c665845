"""Staff accounts."""
from __future__ import annotations

import click

from ..errors import PishkhanError
from . import _px, main

@main.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", default="controller", show_default=True)
@click.option("--org", "orgs", multiple=True, help="organizations (default: all)")
@click.option("--name", default="")
@click.password_option()
@click.pass_context
def users_add(ctx: click.Context, username: str, role: str, orgs: tuple[str, ...], name: str,
              password: str) -> None:
    """Create a staff account."""
    from ..staff import add_user
    try:
        add_user(_px(ctx), username, password, role, list(orgs), name)
    except PishkhanError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {username} created")


@users_group.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List staff accounts."""
    from ..staff import list_users
    for u in list_users(_px(ctx)):
        click.echo(f"{u.username:<20} {u.role:<15} {'active' if u.active else 'disabled':<9} "
                   f"{','.join(u.orgs) or 'all organizations'}")


