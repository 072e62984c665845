"""The in-person desk from the command line: visits, gates and the blacklist."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import click

from connector.domain.clock import TEHRAN, local, to_naive_utc
from connector.domain.errors import NotFound, PishkhanError

from . import _px, explain, main


def _when(value: str | None, end_of_day: bool = False) -> datetime | None:
    """ISO date or date-time; without a zone it is Tehran's wall clock."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time())
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TEHRAN)
    return to_naive_utc(moment)


def _fail(exc: PishkhanError) -> click.ClickException:
    return click.ClickException(explain(exc))


@main.group("visits")
def visits_group() -> None:
    """Visitors of the in-person desk."""


@visits_group.command("add")
@click.argument("org")
@click.option("--national-code", default="")
@click.option("--passport", default="", help="a foreign visitor's passport (with --nationality)")
@click.option("--nationality", default="")
@click.option("--first-name", required=True)
@click.option("--last-name", required=True)
@click.option("--father-name", default="")
@click.option("--mobile", default="", help="the visitor gets the pass code by SMS")
@click.option("--host", required=True, help="the host's staff username")
@click.option("--purpose", default="")
@click.option("--unit", default="")
@click.option("--from", "start", default=None, help="ISO time (Tehran); default now")
@click.option("--to", "end", default=None, help="ISO time (Tehran); default 4 hours later")
@click.pass_context
def visits_add(ctx: click.Context, org: str, national_code: str, passport: str,
               nationality: str, first_name: str, last_name: str, father_name: str,
               mobile: str, host: str, purpose: str, unit: str, start: str | None,
               end: str | None) -> None:
    """Pre-register a visit; prints the pass code."""
    from connector.visits import usecases
    from connector.visits.people import Identity
    ident = Identity(kind="foreign" if passport else "iranian", national_code=national_code,
                     passport=passport, nationality=nationality, first_name=first_name,
                     last_name=last_name, father_name=father_name, mobile=mobile)
    try:
        reg = usecases.register(_px(ctx), org, ident, host=host, purpose=purpose, unit=unit,
                                start=_when(start), end=_when(end))
    except PishkhanError as exc:
        raise _fail(exc) from None
    click.echo(reg.pass_code)


@visits_group.command("list")
@click.argument("org")
@click.option("--inside", is_flag=True, help="only those inside now")
@click.pass_context
def visits_list(ctx: click.Context, org: str, inside: bool) -> None:
    """Visits, newest window first: id, state, window (Tehran), visitor, host."""
    from connector.visits import usecases
    for v in usecases.listing(_px(ctx), org, only_inside=inside):
        window = f"{local(v.window_start):%Y-%m-%d %H:%M}-{local(v.window_end):%H:%M}"
        click.echo(f"{v.id:<6} {v.state:<8} {window}  {v.visitor.name}  "
                   f"host={v.host_name or '-'}  category={v.category}")


@visits_group.command("host")
@click.argument("username")
@click.option("--mobile", default="", help="where the visitor's enter/leave SMS go")
@click.option("--unit", default="")
@click.pass_context
def visits_host(ctx: click.Context, username: str, mobile: str, unit: str) -> None:
    """Set a host's mobile and unit."""
    from connector.visits import hosts
    try:
        hosts.set_profile(_px(ctx), username, mobile=mobile, unit=unit)
    except PishkhanError as exc:
        raise _fail(exc) from None
    click.echo(f"host {username} updated")


@main.group("gates")
def gates_group() -> None:
    """Turnstiles and barcode readers and their tokens."""


@gates_group.command("add")
@click.argument("org")
@click.argument("name")
@click.option("--direction", type=click.Choice(["both", "in", "out"]), default="both",
              show_default=True)
@click.pass_context
def gates_add(ctx: click.Context, org: str, name: str, direction: str) -> None:
    """Create a gate and print its token (shown only now; only a hash is kept)."""
    from connector.visits import gates
    try:
        _, token = gates.add(_px(ctx), org, name, direction)
    except PishkhanError as exc:
        raise _fail(exc) from None
    click.echo(token)


@gates_group.command("list")
@click.argument("org", required=False)
@click.pass_context
def gates_list(ctx: click.Context, org: str | None) -> None:
    """Gates (no tokens: they are not kept)."""
    from connector.visits import gates
    for g in gates.listing(_px(ctx), org):
        seen = f"{local(g.last_seen_at):%Y-%m-%d %H:%M}" if g.last_seen_at else "never"
        click.echo(f"{g.org:<14} {g.name:<20} {g.direction:<5} "
                   f"{'active' if g.active else 'revoked':<8} last scan {seen}")


@gates_group.command("revoke")
@click.argument("org")
@click.argument("name")
@click.pass_context
def gates_revoke(ctx: click.Context, org: str, name: str) -> None:
    """Stop a gate's token from working."""
    from connector.visits import gates
    try:
        gates.revoke(_px(ctx), org, name)
    except NotFound:
        raise click.ClickException(f"no gate {name!r} in {org}") from None
    click.echo(f"gate {name} revoked")


@main.group("blacklist")
def blacklist_group() -> None:
    """People who must not enter."""


@blacklist_group.command("add")
@click.argument("org")
@click.argument("national_code", required=False, default="")
@click.option("--passport", default="")
@click.option("--nationality", default="")
@click.option("--reason", required=True)
@click.option("--until", default=None, help="ISO date (through that day) or date-time")
@click.option("--name", default="")
@click.pass_context
def blacklist_add(ctx: click.Context, org: str, national_code: str, passport: str,
                  nationality: str, reason: str, until: str | None, name: str) -> None:
    """Keep someone out, by national code (or --passport and --nationality)."""
    from connector.visits import blacklist
    try:
        entry = blacklist.add(_px(ctx), org, national_code_=national_code, passport=passport,
                              nationality=nationality, reason=reason, name=name,
                              until=_when(until, end_of_day=True))
    except PishkhanError as exc:
        raise _fail(exc) from None
    click.echo(f"blacklist entry {entry.id} added")


@blacklist_group.command("list")
@click.argument("org")
@click.pass_context
def blacklist_list(ctx: click.Context, org: str) -> None:
    from connector.visits import blacklist
    for e in blacklist.listing(_px(ctx), org):
        who = f"***{(e.national_code or e.passport)[-4:]}"
        until = f"{local(e.until):%Y-%m-%d}" if e.until else "-"
        click.echo(f"{e.id:<5} {who:<10} until {until:<10} by {e.added_by}  {e.reason}")


@main.group("identity")
def identity_group() -> None:
    """Civil-registry and mobile-ownership look-ups (PISHKHAN_IDENTITY_PROFILE)."""


@identity_group.command("check")
@click.argument("national_code")
@click.option("--mobile", default="", help="also ask whether this mobile is theirs")
@click.pass_context
def identity_check(ctx: click.Context, national_code: str, mobile: str) -> None:
    """Try the configured registry with one person (audited like any look-up); exit 1 when it
    does not answer."""
    from connector.plugins import identity
    px = _px(ctx)
    found = identity.lookup_person(px, national_code, purpose="cli check")
    name = f" {found.person.first_name} {found.person.last_name}" if found.person else ""
    click.echo(f"civil registry: {found.status}{name}")
    ok = found.status in ("found", "not_found")
    if mobile:
        owns = identity.check_mobile(px, mobile, national_code, purpose="cli check")
        click.echo(f"mobile ownership: {owns.status}")
        ok = ok and owns.status in ("match", "mismatch")
    if not ok:
        raise SystemExit(1)
