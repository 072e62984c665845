"""The ``pishkhan`` command."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

import click

from .bootstrap import Pishkhan, bootstrap, check_plugins
from .errors import ExternalError, PishkhanError
from .settings import Settings, load_settings


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "apscheduler"):  # they log every migration step and every tick
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _px(ctx: click.Context) -> Pishkhan:
    if "px" not in ctx.obj:
        ctx.obj["px"] = bootstrap(ctx.obj["settings"])
        ctx.call_on_close(ctx.obj["px"].close)
    return ctx.obj["px"]


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Pishkhan: the electronic service desk."""
    settings = load_settings()
    _setup_logging(settings.log_level)
    ctx.obj = {"settings": settings}


# --- processes ---------------------------------------------------------------------------------

def _child_env(settings: Settings) -> dict[str, str]:
    """What the web, worker and sandbox processes see: .env merged under the real environment."""
    env = {**settings.env}
    env.setdefault("SANDBOX_DATABASE_URL", f"sqlite:///{settings.var_dir / 'sandbox.db'}")
    if settings.env.get("PISHKHAN_DEMO_OA_USERNAME"):
        env.setdefault("SANDBOX_USERNAME", settings.env["PISHKHAN_DEMO_OA_USERNAME"])
    if settings.env.get("PISHKHAN_DEMO_OA_PASSWORD"):
        env.setdefault("SANDBOX_PASSWORD", settings.env["PISHKHAN_DEMO_OA_PASSWORD"])
    return env


def _gunicorn(settings: Settings, name: str, app: str, host: str, port: int,
              workers: int) -> list[str]:
    # Each server gets its own control socket; gunicorn's default path is shared by all.
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers",
            str(workers), "--threads", "4", "--timeout", "120", "--access-logfile", "-",
            "--control-socket", str(settings.var_dir / f"gunicorn-{name}.ctl"), app]


def _web_cmd(settings: Settings) -> list[str]:
    workers = int(settings.env.get("PISHKHAN_WEB_WORKERS", "2") or 2)
    return _gunicorn(settings, "web", "portal.wsgi:app", settings.web_host, settings.web_port,
                     workers)


def _sandbox_cmd(settings: Settings) -> list[str]:
    return _gunicorn(settings, "sandbox", "sandbox.wsgi:app", settings.sandbox_host,
                     settings.sandbox_port, 1)


@main.command()
@click.pass_context
def web(ctx: click.Context) -> None:
    """Serve the portal (citizen pages, console, JSON API) with gunicorn."""
    settings = ctx.obj["settings"]
    os.execvpe(sys.executable, _web_cmd(settings), _child_env(settings))


@main.command()
@click.pass_context
def sandbox(ctx: click.Context) -> None:
    """Serve the sandbox office-automation system."""
    settings = ctx.obj["settings"]
    os.execvpe(sys.executable, _sandbox_cmd(settings), _child_env(settings))


@main.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run the scheduler: delivery, routing polls and SMS."""
    from . import worker as worker_mod
    worker_mod.run(_px(ctx))


def _wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Everything on one machine: migrate, then sandbox + portal + worker until Ctrl-C."""
    from . import db
    from .staff import ensure_demo_operator

    settings: Settings = ctx.obj["settings"]
    db.upgrade(settings.database_url)
    px = _px(ctx)
    if px.problems:
        for problem in px.problems:
            click.echo(f"config: {problem}", err=True)
    operator = ensure_demo_operator(px)
    env = _child_env(settings)
    cli = [sys.executable, "-m", "connector.cli"]
    procs = {
        "sandbox": subprocess.Popen(_sandbox_cmd(settings), env=env),
        "web": subprocess.Popen(_web_cmd(settings), env=env),
        "worker": subprocess.Popen([*cli, "worker"], env=env),
    }
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    web_url = f"http://{settings.web_host}:{settings.web_port}"
    sandbox_url = f"http://{settings.sandbox_host}:{settings.sandbox_port}"
    ready = _wait_http(sandbox_url + "/api/health", 45) and _wait_http(web_url + "/", 45)
    click.echo("")
    click.echo("Pishkhan is running." if ready else "Pishkhan started, but a server is not "
               "answering yet; see the log above.")
    click.echo(f"  Citizen portal:        {web_url}/")
    click.echo(f"  Operator console:      {web_url}/console/")
    click.echo(f"  Sandbox (the organization's office-automation system): {sandbox_url}/")
    if operator:
        click.echo(f"  Demo operator login:   username {operator[0]}  password {operator[1]}")
    click.echo(f"  SMS sent so far:       pishkhan sms list   (file: {settings.sms_outbox})")
    click.echo("  Stop with Ctrl-C.")
    code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                click.echo(f"{name} stopped (exit {proc.returncode}); stopping the rest.", err=True)
                stopping, code = True, 1
                break
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    sys.exit(code)


# --- database and configuration ------------------------------------------------------------------

@main.group("db")
def db_group() -> None:
    """The staging store."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the database schema to the newest version."""
    from . import db
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


@main.group("adapter")
def adapter_group() -> None:
    """Correspondence-system adapters."""


@adapter_group.command("check")
@click.argument("org")
@click.pass_context
def adapter_check(ctx: click.Context, org: str) -> None:
    """Reach the organization's system, authenticate and look a letter up."""
    px = _px(ctx)
    try:
        adapter = px.adapter(org)
        click.echo(f"ok   reach and sign in: {adapter.ping()}")
        adapter.find("000000000000")
        click.echo("ok   look-up by tracking code works")
    except (ExternalError, PishkhanError) as exc:
        click.echo(f"FAIL {getattr(exc, 'kind', 'error')}: {getattr(exc, 'detail', exc)}")
        sys.exit(1)


# --- letters and SMS ---------------------------------------------------------------------------

@main.group("letters")
def letters_group() -> None:
    """Letters in the staging store."""


@letters_group.command("show")
@click.argument("code")
@click.pass_context
def letters_show(ctx: click.Context, code: str) -> None:
    """Show a letter's state, numbers, last error and timeline."""
    from . import letters
    px = _px(ctx)
    try:
        letter = letters.get(px, code)
    except PishkhanError:
        raise click.ClickException(f"no letter with tracking code {code}") from None
    data = letters.view(px, letter)
    data.update(attempts=letter.attempts, last_error=letter.last_error,
                external_id=letter.external_id)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@letters_group.command("retry")
@click.argument("code")
@click.pass_context
def letters_retry(ctx: click.Context, code: str) -> None:
    """Send a failed or dead letter again, with its attempts reset."""
    from . import letters
    try:
        letters.retry(_px(ctx), code)
    except PishkhanError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"letter {code} will be delivered again on the next tick")


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
    from . import notifications
    from .normalize import mobile
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


# --- staff -------------------------------------------------------------------------------------

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
    from .staff import add_user
    try:
        add_user(_px(ctx), username, password, role, list(orgs), name)
    except PishkhanError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {username} created")


@users_group.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List staff accounts."""
    from .staff import list_users
    for u in list_users(_px(ctx)):
        click.echo(f"{u.username:<20} {u.role:<15} {'active' if u.active else 'disabled':<9} "
                   f"{','.join(u.orgs) or 'all organizations'}")


if __name__ == "__main__":
    main()
