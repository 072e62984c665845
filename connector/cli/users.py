"""Staff accounts."""
from __future__ import annotations

import click

from connector.domain.errors import PishkhanError

from . import _px, explain, main


@main.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", default="controller", show_default=True,
              type=click.Choice(["controller", "desk", "org_admin", "platform_admin", "host",
                                 "security"]))
@click.option("--org", "orgs", multiple=True, help="organizations (default: all)")
@click.option("--name", default="")
@click.option("--ldap", is_flag=True,
              help="sign in with the directory's password (PISHKHAN_LDAP_URL); none is stored")
@click.option("--password", default=None, help="prompted for when not given")
@click.pass_context
def users_add(ctx: click.Context, username: str, role: str, orgs: tuple[str, ...], name: str,
              ldap: bool, password: str | None) -> None:
    """Create a staff account."""
    from connector.people.staff import add_user
    if not ldap and password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        add_user(_px(ctx), username, password, role, list(orgs), name, ldap=ldap)
    except PishkhanError as exc:
        raise click.ClickException(explain(exc)) from None
    click.echo(f"user {username} created")


@users_group.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List staff accounts."""
    from connector.domain.clock import now
    from connector.people.staff import LDAP_MARKER, list_users
    for u in list_users(_px(ctx)):
        status = "disabled" if not u.active else \
            "locked" if u.locked_until and u.locked_until > now() else "active"
        sign_in = "ldap" if u.password_hash == LDAP_MARKER else "password"
        click.echo(f"{u.username:<20} {u.role:<15} {status:<9} {sign_in:<9} "
                   f"{','.join(u.orgs) or 'all organizations'}")


def _apply(ctx: click.Context, fn_name: str, username: str, *args: str) -> None:
    from connector.people import staff
    try:
        getattr(staff, fn_name)(_px(ctx), username, *args)
    except PishkhanError as exc:
        raise click.ClickException(explain(exc)) from None


@users_group.command("disable")
@click.argument("username")
@click.pass_context
def users_disable(ctx: click.Context, username: str) -> None:
    """Stop an account from signing in (its open sessions end too)."""
    _apply(ctx, "disable_user", username)
    click.echo(f"user {username} disabled")


@users_group.command("enable")
@click.argument("username")
@click.pass_context
def users_enable(ctx: click.Context, username: str) -> None:
    """Let a disabled or locked account sign in again."""
    _apply(ctx, "enable_user", username)
    click.echo(f"user {username} enabled")


@users_group.command("reset-password")
@click.argument("username")
@click.option("--password", default=None, help="prompted for when not given")
@click.pass_context
def users_reset_password(ctx: click.Context, username: str, password: str | None) -> None:
    """Set a new password (also lifts a lockout)."""
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    _apply(ctx, "reset_password", username, password)
    click.echo(f"password of {username} changed")
