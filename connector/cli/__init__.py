"""The ``pishkhan`` command. Each group of subcommands lives in its own module, registered
at the bottom of this one."""
from __future__ import annotations

import getpass

import click

from connector.bootstrap import Pishkhan, bootstrap
from connector.config.settings import SettingsError, load_settings
from connector.operations import logs
from connector.store.audit import acting_as


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
from . import audit, letters, processes, retention, sms, store, users, webhooks  # noqa: E402,F401
