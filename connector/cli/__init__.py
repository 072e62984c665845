"""The ``pishkhan`` command. Each group of subcommands lives in its own module, registered
at the bottom of this one."""
from __future__ import annotations

import getpass
from typing import Any

import click

import messages
from connector.bootstrap import Pishkhan, bootstrap
from connector.config.settings import SettingsError, load_settings
from connector.domain.errors import Message, PishkhanError, ValidationError
from connector.operations import logs
from connector.store.audit import acting_as


def explain(exc: PishkhanError) -> str:
    """An error for the person at the terminal: a ValidationError's messages in words (from the
    message catalog, in PISHKHAN_CLI_LANG), any other error as it describes itself."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    locale = click.get_current_context().obj["settings"].cli_lang
    return "; ".join(f"{field}: {messages.render(m, locale)}" for field, m in exc.errors.items())


def say(value: Any) -> Any:
    """A value with the catalog's messages in it rendered (for printing)."""
    locale = click.get_current_context().obj["settings"].cli_lang
    if isinstance(value, Message):
        return messages.render(value, locale)
    if isinstance(value, dict):
        return {k: say(v) for k, v in value.items()}
    if isinstance(value, list):
        return [say(v) for v in value]
    return value


def _refuse_bad_config(px: Pishkhan) -> None:
    """The portal and the worker do not start while an organization file is invalid: its
    citizens would get 404s with one log line nobody reads."""
    from connector.bootstrap import startup_problems
    problems = startup_problems(px)
    if problems:
        for problem in problems:
            click.echo(f"FAIL {problem}", err=True)
        click.echo("Pishkhan does not start until these are fixed "
                   "(`pishkhan config check` lists them).", err=True)
        raise SystemExit(2)


def _px(ctx: click.Context) -> Pishkhan:
    if "px" not in ctx.obj:
        ctx.obj["px"] = bootstrap(ctx.obj["settings"])
        ctx.call_on_close(ctx.obj["px"].close)
    return ctx.obj["px"]


SERVICES = frozenset({"run", "web", "worker", "sandbox"})


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Pishkhan: the electronic service desk."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            click.echo(f"FAIL {line}", err=True)
        ctx.exit(2)
    logs.setup(settings.log_level, settings.log_format)
    ctx.obj = {"settings": settings}
    # What a one-off command changes is audited as done by the person at this terminal; the
    # long-running processes record their own actors (the request's user, or the system).
    if ctx.invoked_subcommand not in SERVICES:
        ctx.with_resource(acting_as(f"cli:{getpass.getuser()}"))



# Registered after ``main`` exists; each module adds its commands to it.
from . import (  # noqa: E402,F401
    audit,
    letters,
    mail,
    processes,
    retention,
    sms,
    store,
    users,
    visits,
    webhooks,
)
