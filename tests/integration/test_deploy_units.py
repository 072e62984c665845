"""The deployment shipped in deploy/, run as docs/deploy.md says: the systemd units' command
lines (parsed from their ExecStart= and Environment= lines) against the example env file on a
fresh PostgreSQL — two portal processes behind nginx with the shipped site, two workers — until
they serve and tick, then stopped as systemd stops them."""
from __future__ import annotations

import http.client
import os
import re
import secrets
import shlex
import shutil
import signal
import ssl
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connector.domain import tracking
from tests.conftest import ROOT
from tests.integration.test_processes import free_port, started

DEPLOY = ROOT / "deploy"
WEB, WORKER = DEPLOY / "pishkhan-web@.service", DEPLOY / "pishkhan-worker@.service"
PREFIX, ENV_FILE = "/opt/pishkhan", "/etc/pishkhan/pishkhan.env"


def service_section(unit: Path) -> list[tuple[str, str]]:
    pairs, section = [], ""
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def unit_command(unit: Path, instance: str, env_file: Path) -> tuple[list[str], dict[str, str],
                                                                     Path]:
    """What systemd would run: argv, environment and working directory, with the install
    prefix and the env file's path pointed at this checkout and a temporary file."""
    def local(value: str) -> str:
        return (value.replace("%i", instance).replace(ENV_FILE, str(env_file))
                .replace(PREFIX, str(ROOT)))
    pairs = service_section(unit)
    starts = [local(v) for k, v in pairs if k == "ExecStart"]
    assert len(starts) == 1, f"{unit.name}: one ExecStart= line"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(env_file.parent)}
    for key, value in pairs:
        if key == "Environment":
            name, _, val = local(value).partition("=")
            env[name] = val
    cwd = Path(local(dict(pairs)["WorkingDirectory"]))
    return shlex.split(starts[0]), env, cwd


def test_the_units_are_valid_systemd_units(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    for unit in (WEB, WORKER):
        # verify wants the program to exist; the rest of the unit is checked as shipped.
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace(f"{PREFIX}/.venv/bin/pishkhan", "/bin/true"))
        result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "Unknown key" not in result.stderr and "Unknown section" not in result.stderr


def _env_file(tmp_path: Path, pg_url: str) -> Path:
    """deploy/pishkhan.env.example with this machine's database and folders."""
    orgs = tmp_path / "orgs"
    shutil.copytree(ROOT / "config" / "organizations", orgs)
    values = {
        "PISHKHAN_DATABASE_URL": pg_url,
        "PISHKHAN_VAR_DIR": str(tmp_path / "var"),
        "PISHKHAN_ORGS_DIR": str(orgs),
        "PISHKHAN_SECRET_KEY": secrets.token_urlsafe(32),
        "PISHKHAN_SMS_GATEWAY": "org:demo",
    }
    body = (DEPLOY / "pishkhan.env.example").read_text()
    for key, value in values.items():
        body, count = re.subn(rf"(?m)^{key}=.*$", f"{key}={value}", body)
        assert count == 1, key
    # Nothing of the demo's listens here: the workers' polls fail fast and are recorded.
    body += ("\nPISHKHAN_SANDBOX_URL=http://127.0.0.1:9\nPISHKHAN_DEMO_OA_USERNAME=pishkhan\n"
             "PISHKHAN_DEMO_OA_PASSWORD=x\n")
    path = tmp_path / "pishkhan.env"
    path.write_text(body)
    return path


def _nginx_conf(tmp_path: Path, ports: list[int], http_port: int, https_port: int) -> Path:
    """The shipped site with its upstream pointed at the test's portal processes, its listen
    addresses at free ports and a self-signed certificate; everything else as shipped."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=pishkhan.example.ir", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    site = (DEPLOY / "nginx-pishkhan.conf").read_text()
    servers = re.findall(r"(?m)^\s*server 127\.0\.0\.1:\d+ .*;$", site)
    assert len(servers) == len(ports)
    for line, port in zip(servers, ports):
        site = site.replace(line, re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", line), 1)
    site = re.sub(r"(?m)^\s*listen \[::\]:.*$", "", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = site.replace("/etc/ssl/pishkhan/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/pishkhan/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "nginx-temp"
    temp.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""daemon off;
{"user root;" if os.geteuid() == 0 else ""}
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{}}
http {{
    access_log {tmp_path}/nginx-access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp_path}/site.conf;
}}
""")
    return conf


def _https(port: int, path: str, source: str) -> tuple[int, dict[str, str]]:
    """One request to nginx from a loopback address of our choosing (127.x.y.z)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                       source_address=(source, 0),
                                       context=ssl._create_unverified_context())
    try:
        conn.request("GET", path, headers={"Host": "pishkhan.example.ir"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, dict(resp.getheaders())
    finally:
        conn.close()


def _wait(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} within {seconds} s")


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed "
                    "(scripts/system-packages.sh test installs it)")
def test_two_portals_behind_nginx_and_two_workers_run_from_the_units(tmp_path, pg_url):
    env_file = _env_file(tmp_path, pg_url)
    # First the schema, as the guide says (the units never migrate by themselves).
    argv, env, cwd = unit_command(WEB, "0", env_file)
    upgrade = subprocess.run([argv[0], "db", "upgrade"], env=env, cwd=cwd, capture_output=True,
                             text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    ports = [free_port(), free_port()]
    http_port, https_port = free_port(), free_port()
    nginx_conf = _nginx_conf(tmp_path, ports, http_port, https_port)
    procs = {}
    with ExitStack() as stack:
        for port in ports:
            argv, env, cwd = unit_command(WEB, str(port), env_file)
            procs[f"web@{port}"] = stack.enter_context(
                started(argv, env, tmp_path / f"web-{port}.log", cwd))
        for n in ("1", "2"):
            argv, env, cwd = unit_command(WORKER, n, env_file)
            procs[f"worker@{n}"] = stack.enter_context(
                started(argv, env, tmp_path / f"worker-{n}.log", cwd))
        procs["nginx"] = stack.enter_context(started(
            ["nginx", "-c", str(nginx_conf), "-p", str(tmp_path)], dict(os.environ),
            tmp_path / "nginx.log", tmp_path))

        _wait(lambda: _https(https_port, "/readyz", "127.0.0.1")[0] == 200, 90,
              "the portal did not answer through nginx")
        _wait(lambda: all(_port_answers(p) for p in ports), 60, "both portals did not answer")
        # Plain http is sent to https.
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        conn.request("GET", "/", headers={"Host": "pishkhan.example.ir"})
        assert conn.getresponse().status == 301
        conn.close()

        # One citizen probing tracking codes through nginx: the requests alternate between the
        # two portal processes, yet the 61st is refused — the counter is shared in Redis and
        # keyed by the citizen's own address, which ProxyFix takes from nginx's header.
        citizen = f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250)}." \
                  f"{secrets.randbelow(250) + 1}"
        track = f"/track?code={tracking.new_code()}"  # well formed, no such letter
        codes = [_https(https_port, track, citizen)[0] for _ in range(61)]
        assert codes[:60] == [302] * 60 and codes[60] == 429, codes
        # Another citizen behind the same nginx is not held up.
        other = citizen.rsplit(".", 1)[0] + ".254"
        assert _https(https_port, track, other)[0] == 302
        for port in ports:  # both processes served some of them
            assert '"path": "/track"' in (tmp_path / f"web-{port}.log").read_text()

        # The workers tick: every organization has been polled (and its failure recorded).
        engine = create_engine(pg_url)
        try:
            def polled() -> bool:
                with engine.connect() as c:
                    return c.scalar(text("SELECT count(*) FROM org_state "
                                         "WHERE last_poll_at IS NOT NULL")) >= 4
            _wait(polled, 60, "the workers did not poll")
        finally:
            engine.dispose()
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited"
        # Stopped as systemd stops them (KillSignal=SIGTERM), each ends cleanly.
        for name in [n for n in procs if n != "nginx"]:
            os.killpg(procs[name].pid, signal.SIGTERM)
        for name in [n for n in procs if n != "nginx"]:
            assert procs[name].wait(timeout=60) == 0, \
                (tmp_path / f"{name.replace('@', '-')}.log").read_text()
    for name in [n for n in procs if n.startswith("worker")]:
        output = (tmp_path / f"{name.replace('@', '-')}.log").read_text()
        assert "Traceback" not in output, output


def _port_answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    finally:
        conn.close()
