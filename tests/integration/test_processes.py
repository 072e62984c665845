"""The long-running commands started as a person (or systemd) starts them: `pishkhan web` alone in
demo mode on a fresh PostgreSQL, and the sandbox's terminal output."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from connector.bootstrap import bootstrap
from connector.people.staff import DEMO_ADMIN, DEMO_OPERATOR, ensure_demo_operator
from connector.store.db import upgrade
from connector.store.models import StaffUser
from tests.conftest import ROOT, make_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A process environment of its own: files under tmp_path, no .env, the shipped
    organizations."""
    orgs = tmp_path / "orgs"
    if not orgs.exists():
        shutil.copytree(ROOT / "config" / "organizations", orgs)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PISHKHAN_", "SANDBOX_"))}
    env.update({
        "PISHKHAN_VAR_DIR": str(tmp_path / "var"),
        "PISHKHAN_ORGS_DIR": str(orgs),
        "PISHKHAN_ENV_FILE": str(tmp_path / "none.env"),
        "PISHKHAN_SECRET_KEY": "test-secret",
        "PISHKHAN_DEMO_OA_USERNAME": "pishkhan",
        "PISHKHAN_DEMO_OA_PASSWORD": "sandbox-secret",
        "PISHKHAN_ARGON2_TIME_COST": "1",
        "PISHKHAN_ARGON2_MEMORY_KIB": "8192",
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


def get(url: str, timeout: float = 3) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_http(url: str, proc: subprocess.Popen, seconds: float = 60) -> int:
    """The first status the URL answers with; fails if the process exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the process exited with {proc.returncode}"
        try:
            return get(url)[0]
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@contextmanager
def started(cmd: Sequence[str], env: dict[str, str], log: Path,
            cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """A process in its own group with its output in a file; stopped as systemd stops a unit
    (SIGTERM to the group), then killed if it lingers."""
    with log.open("wb") as out:
        proc = subprocess.Popen(list(cmd), env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=str(cwd or log.parent))
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


PISHKHAN = [sys.executable, "-m", "connector.cli"]


def wait_banner(proc: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    """Until `pishkhan run` has printed its addresses (its servers answer by then)."""
    deadline = time.monotonic() + seconds
    while "Stop with Ctrl-C" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)


def test_web_alone_starts_on_a_fresh_postgres_in_demo_mode(tmp_path, pg_url):
    port = free_port()
    env = process_env(tmp_path, PISHKHAN_DATABASE_URL=pg_url, PISHKHAN_DEMO="true",
                      PISHKHAN_WEB_PORT=str(port), PISHKHAN_WEB_WORKERS="4")
    log = tmp_path / "web.log"
    with started([*PISHKHAN, "web"], env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        assert wait_http(base + "/healthz", proc) == 200
        # Every worker has booted (a worker that fails to boot makes the master exit) and each
        # answers: more requests than workers, a few times over.
        time.sleep(2)
        for _ in range(12):
            assert get(base + "/")[0] == 200
        assert get(base + "/readyz")[0] == 200  # migrated to the newest schema
        assert proc.poll() is None
    output = log.read_text()
    assert "Traceback" not in output and "Worker failed to boot" not in output, output
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url))
    try:
        with px.sessions() as s:
            names = s.scalars(select(StaffUser.username).order_by(StaffUser.username)).all()
        assert names == sorted([DEMO_OPERATOR[0], DEMO_ADMIN[0]])
    finally:
        px.close()


def test_demo_accounts_made_by_many_processes_at_once_exist_once(tmp_path, pg_url):
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url, PISHKHAN_DEMO="true")
    upgrade(pg_url)
    # One Pishkhan each, as gunicorn's workers have: own engine, own connections.
    pxs = [bootstrap(settings) for _ in range(32)]
    barrier, errors = threading.Barrier(len(pxs)), []

    def seed(px) -> None:
        barrier.wait(30)
        try:
            assert ensure_demo_operator(px) == DEMO_OPERATOR
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=seed, args=(px,)) for px in pxs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == []
        with pxs[0].sessions() as s:
            assert s.scalar(select(func.count()).select_from(StaffUser)) == 2
    finally:
        for px in pxs:
            px.close()


def _sandbox_output(tmp_path: Path, **extra: str) -> str:
    port = free_port()
    env = process_env(tmp_path, PISHKHAN_SANDBOX_PORT=str(port), **extra)
    log = tmp_path / f"sandbox-{port}.log"
    with started([*PISHKHAN, "sandbox"], env, log) as proc:
        assert wait_http(f"http://127.0.0.1:{port}/api/health", proc) == 200
        for _ in range(3):
            get(f"http://127.0.0.1:{port}/api/health")
        time.sleep(0.5)  # gunicorn writes its access log after the response
    return log.read_text()


def test_sandbox_access_log_stays_out_of_the_terminal_unless_asked_for(tmp_path):
    quiet = _sandbox_output(tmp_path)
    assert "/api/health" not in quiet and "Booting worker" not in quiet, quiet
    loud = _sandbox_output(tmp_path, PISHKHAN_SANDBOX_ACCESS_LOG="true")
    assert loud.count("GET /api/health") >= 3, loud


def _left_behind(marker: str) -> list[str]:
    """Processes whose command line names this test's folder (its gunicorn control sockets)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and marker in cmdline and int(proc.name) != os.getpid():
            found.append(f"{proc.name} {cmdline}")
    return found


def test_ctrl_c_on_pishkhan_run_stops_everything(tmp_path):
    port = free_port()
    env = process_env(tmp_path, PISHKHAN_DEMO="true", PISHKHAN_WEB_PORT=str(port),
                      PISHKHAN_SANDBOX_PORT=str(free_port()))
    log = tmp_path / "run.log"
    with started([*PISHKHAN, "run"], env, log) as proc:
        wait_banner(proc, log)
        time.sleep(2)  # the worker polls the sandbox meanwhile
        # What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0, log.read_text()
    deadline = time.monotonic() + 15
    while _left_behind(str(tmp_path / "var")) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _left_behind(str(tmp_path / "var"))
    for line in left:  # a failing run must not leave servers behind for the next tests
        os.kill(int(line.split()[0]), signal.SIGKILL)
    assert left == []


def _sockets_of(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def _tcp_on(port: int) -> list[tuple[str, str]]:
    """(state, inode) of the IPv4 TCP sockets whose local port is ``port``."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            rows.append((fields[3], fields[9]))
    return rows


def test_each_web_worker_listens_on_its_own_socket_and_a_burst_is_spread(tmp_path):
    """`pishkhan web` gives each worker a socket of its own (SO_REUSEPORT), so the kernel
    spreads new connections over the workers: a burst of keep-alive clients is not held by
    whichever worker was quickest to accept (it once held 42 of 50)."""
    import http.client

    port = free_port()
    env = process_env(tmp_path, PISHKHAN_DATABASE_URL=f"sqlite:///{tmp_path / 's.db'}",
                      PISHKHAN_DEMO="true", PISHKHAN_WEB_PORT=str(port),
                      PISHKHAN_WEB_WORKERS="2")
    log = tmp_path / "web.log"
    with started([*PISHKHAN, "web"], env, log) as proc:
        assert wait_http(f"http://127.0.0.1:{port}/healthz", proc) == 200
        time.sleep(1)
        workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)],
                                                  capture_output=True, text=True).stdout.split()]
        assert len(workers) == 2
        listening = {inode for state, inode in _tcp_on(port) if state == "0A"}
        assert len(listening) == 2  # one per worker, none shared
        assert all(len(_sockets_of(w) & listening) == 1 for w in workers)
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(40)]
        for c in clients:
            c.request("GET", "/healthz")
        for c in clients:
            assert c.getresponse().read()
        established = {inode for state, inode in _tcp_on(port) if state == "01"}
        held = [len(_sockets_of(w) & established) for w in workers]
        for c in clients:
            c.close()
    assert sum(held) == 40 and min(held) >= 8, held


def test_web_refuses_a_port_another_program_listens_on(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        env = process_env(tmp_path, PISHKHAN_DATABASE_URL=f"sqlite:///{tmp_path / 's.db'}",
                          PISHKHAN_WEB_PORT=str(port), PISHKHAN_CLI_LANG="fa")
        done = subprocess.run([*PISHKHAN, "web"], env=env, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 2
    assert f"127.0.0.1:{port}" in done.stderr and "PISHKHAN_WEB_PORT" in done.stderr
