"""scripts/system-packages.sh against stand-ins for dpkg-query, apt-get, id and sudo (small
shell scripts first on PATH that record how they were called), so what it would install is
checked without touching the machine's packages."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "system-packages.sh"


def _tools(tmp_path: Path, installed: list[str], uid: int = 0, sudo: bool = False) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    lines = "\n".join(f"{p} install ok installed" for p in installed)
    stubs = {
        # Like dpkg-query -W: the known ones on stdout, "no packages found" for the others.
        "dpkg-query": f'printf "%s\\n" "dpkg-query $*" >> {log}\ncat <<EOF\n{lines}\nEOF\n',
        "apt-get": f'echo "apt-get $*" >> {log}\n',
        "id": f"echo {uid}\n",
    }
    if sudo:
        stubs["sudo"] = f'echo "sudo $*" >> {log}\n[ "$1" = -n ] && exit 0\n"$@"\n'
    for name, body in stubs.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    return bin_dir


def _run(tmp_path: Path, bin_dir: Path, which: str = "runtime", **env: str):
    # Only our stand-ins and the basic tools: no real sudo or apt-get can be reached.
    basics = tmp_path / "basics"
    basics.mkdir(exist_ok=True)
    for tool in ("sh", "awk", "cat", "env"):
        target = next(Path(d) / tool for d in os.environ["PATH"].split(":") + ["/usr/bin", "/bin"]
                      if (Path(d) / tool).exists())
        if not (basics / tool).exists():
            (basics / tool).symlink_to(target)
    result = subprocess.run(
        ["/bin/sh", str(SCRIPT), which], capture_output=True, text=True, timeout=30,
        env={"PATH": f"{bin_dir}:{basics}", "PYTHON": sys.executable, **env}, stdin=subprocess.DEVNULL)
    log = tmp_path / "calls.log"
    return result, log.read_text().splitlines() if log.exists() else []


RUNTIME = ["unixodbc", "odbc-postgresql", "odbc-mariadb", "libsqliteodbc"]
TEST_ONLY = ["unixodbc-dev", "poppler-utils", "zbar-tools", "slapd", "ldap-utils", "chromium",
             "postgresql", "mariadb-server", "redis-server", "nginx", "clamav-daemon"]


def test_everything_present_is_silent_and_never_calls_apt(tmp_path):
    result, calls = _run(tmp_path, _tools(tmp_path, RUNTIME + TEST_ONLY), "test")
    assert result.returncode == 0
    assert result.stdout == result.stderr == ""
    assert [c.split()[0] for c in calls] == ["dpkg-query"]  # one look, no apt-get update


def test_root_installs_only_what_is_missing_after_one_update(tmp_path):
    result, calls = _run(tmp_path, _tools(tmp_path, ["unixodbc", "odbc-postgresql"]))
    assert result.returncode == 0
    apt = [c for c in calls if c.startswith("apt-get")]
    assert apt[0] == "apt-get update -qq"
    assert apt[1].endswith("install -y -qq --no-install-recommends odbc-mariadb libsqliteodbc")
    assert len(apt) == 2


def test_runtime_list_leaves_test_packages_alone(tmp_path):
    result, calls = _run(tmp_path, _tools(tmp_path, RUNTIME))
    assert result.returncode == 0 and not [c for c in calls if c.startswith("apt-get")]
    assert "chromium" not in calls[0] and "libsqliteodbc" in calls[0]


def test_without_root_or_sudo_it_prints_the_command_and_carries_on(tmp_path):
    result, calls = _run(tmp_path, _tools(tmp_path, ["unixodbc"], uid=1000))
    assert result.returncode == 0
    assert not [c for c in calls if c.startswith("apt-get")]
    assert ("sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends "
            "odbc-postgresql odbc-mariadb libsqliteodbc'") in result.stderr
    assert "carrying on" in result.stderr


def test_strict_mode_fails_when_it_cannot_install(tmp_path):
    result, _ = _run(tmp_path, _tools(tmp_path, ["unixodbc"], uid=1000),
                     PISHKHAN_PACKAGES_STRICT="1")
    assert result.returncode == 1


def test_sudo_is_used_when_it_needs_no_password(tmp_path):
    result, calls = _run(tmp_path, _tools(tmp_path, RUNTIME[:3], uid=1000, sudo=True))
    assert result.returncode == 0
    assert any(c.startswith("sudo env DEBIAN_FRONTEND=noninteractive apt-get install")
               and c.endswith("libsqliteodbc") for c in calls)
    assert [c for c in calls if c.startswith("apt-get install")]
