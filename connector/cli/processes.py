"""Starting the servers and the worker."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import click

import messages

from connector.bootstrap import Pishkhan
from connector.config.settings import Settings

from . import _px, _refuse_bad_config, main


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
              workers: int, access_log: bool, log_level: str = "info",
              own_sockets: bool = False) -> list[str]:
    # Each server gets its own control socket; gunicorn's default path is shared by all.
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers",
            str(workers), "--threads", "4", "--timeout", "120", "--log-level", log_level,
            *(["--reuse-port"] if own_sockets else []),
            *(["--access-logfile", "-"] if access_log else []),
            "--control-socket", str(settings.var_dir / f"gunicorn-{name}.ctl"), app]


def _web_cmd(settings: Settings) -> list[str]:
    workers = settings.web_workers
    # No gunicorn access log: the portal logs each request itself, with request ids and
    # personal data masked. Each worker listens on a socket of its own (SO_REUSEPORT) and the
    # kernel spreads new connections over them: on one shared socket, whichever worker was
    # quickest took them, and under a burst one worker held 42 of 50 keep-alive clients (their
    # requests waited six times longer than the other's; measured with bench/intake.py).
    return _gunicorn(settings, "web", "portal.wsgi:app", settings.web_host, settings.web_port,
                     workers, access_log=False,
                     # Port 0 (any free port) would give each worker a port of its own.
                     own_sockets=settings.web_port != 0)


def _refuse_busy_port(settings: Settings, host: str, port: int) -> None:
    """Sockets that share a port (SO_REUSEPORT) would let a second portal start beside a
    forgotten one and split the traffic with it; a plain bind finds the port taken instead."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            click.echo(messages.render("cli.port_busy", settings.cli_lang,
                                       address=f"{host}:{port}"), err=True)
            raise SystemExit(2) from None


def _sandbox_cmd(settings: Settings) -> list[str]:
    # The worker polls the sandbox every few seconds: a line per request (and gunicorn's start-up
    # chatter) would bury the portal's and the worker's own lines. Asked for, both come back.
    verbose = settings.sandbox_access_log
    return _gunicorn(settings, "sandbox", "sandbox.wsgi:app", settings.sandbox_host,
                     settings.sandbox_port, 1, access_log=verbose,
                     log_level="info" if verbose else "warning")


def _prepare_demo(ctx: click.Context) -> tuple[str, str] | None:
    """The demo's database and accounts, made here, once, before gunicorn forks its workers
    (each of which would otherwise race the others to make them). Production migrates with
    ``pishkhan db upgrade`` and makes its accounts with ``pishkhan users add``."""
    from connector.people.staff import ensure_demo_operator
    from connector.store import db

    db.upgrade(ctx.obj["settings"].database_url)
    px = _px(ctx)
    try:
        return ensure_demo_operator(px)
    finally:
        px.engine.dispose()  # no pooled connection may outlive this process's exec


@main.command()
@click.pass_context
def web(ctx: click.Context) -> None:
    """Serve the portal (citizen pages, console, JSON API) with gunicorn."""
    settings = ctx.obj["settings"]
    _refuse_bad_config(_px(ctx))
    _refuse_busy_port(settings, settings.web_host, settings.web_port)
    if settings.demo:
        _prepare_demo(ctx)
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
    from connector.cli import worker as worker_mod

    # systemd (and `pishkhan run`) stop the worker with SIGTERM: leave the scheduler's loop as
    # Ctrl-C does, so the ticks in flight finish instead of dying mid-call.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _refuse_bad_config(_px(ctx))
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


def _echo_unusable(px: Pishkhan) -> None:
    """Organizations that cannot work until something is fixed (a missing ODBC driver, a bad
    adapter or SMS option), said once here; the worker records the same on their dashboard."""
    from connector.bootstrap import check_plugins

    for slug, org in sorted(px.orgs.items()):
        for problem in check_plugins(px, [slug]):
            click.echo(f"  NOT WORKING: {org.name} ({slug}) — letters to it wait in the queue "
                       f"until this is fixed: {problem.message}", err=True)


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Everything on one machine: migrate, then sandbox + portal + worker until Ctrl-C."""
    from connector.people.staff import DEMO_ADMIN, ensure_demo_operator
    from connector.store import db

    settings: Settings = ctx.obj["settings"]
    db.upgrade(settings.database_url)
    px = _px(ctx)
    _refuse_bad_config(px)
    _refuse_busy_port(settings, settings.web_host, settings.web_port)
    operator = ensure_demo_operator(px)  # before the web server forks its workers
    from connector.visits import demo as visits_demo
    demo_visits = visits_demo.ensure(px)
    env = _child_env(settings)
    cli = [sys.executable, "-m", "connector.cli"]
    # Each child in a process group of its own: Ctrl-C reaches only this process, which stops
    # each server through its master (SIGTERM, a graceful stop). A terminal's SIGINT sent to
    # every gunicorn worker at once could leave one hung behind its exited master.
    procs = {
        "sandbox": subprocess.Popen(_sandbox_cmd(settings), env=env, start_new_session=True),
        "web": subprocess.Popen(_web_cmd(settings), env=env, start_new_session=True),
        "worker": subprocess.Popen([*cli, "worker"], env=env, start_new_session=True),
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
        click.echo(f"  Admin pages:           {web_url}/admin/  (username {DEMO_ADMIN[0]}  "
                   f"password {DEMO_ADMIN[1]})")
        click.echo(f"  Front desk:            {web_url}/desk/")
    if demo_visits:
        v = demo_visits
        click.echo(f"  Visits (security desk): {web_url}/visits/  (username {v.security[0]}  "
                   f"password {v.security[1]}; host: {v.host[0]} / {v.host[1]})")
        click.echo(f"  Gate {v.gate} token:  {v.token}")
        click.echo(f"    curl -H 'Authorization: Bearer {v.token}' -H 'Content-Type: "
                   f"application/json' -d '{{\"code\": \"PASS\", \"direction\": \"in\"}}' "
                   f"{web_url}/api/v1/gates/{v.gate}/scan")
    click.echo(f"  SMS sent so far:       pishkhan sms list   (file: {settings.sms_outbox})")
    _echo_unusable(px)
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
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of its group is still there
        except ProcessLookupError:
            pass
    sys.exit(code)


