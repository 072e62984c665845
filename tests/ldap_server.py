"""A real OpenLDAP server (slapd from Debian) on a loopback port, configured from scratch in a
temporary folder, for the directory sign-in tests."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SUFFIX = "dc=example,dc=ir"
USER_DN = "uid={username},ou=people," + SUFFIX

CONFIG = """\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {dir}/slapd.pid

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {suffix}
olcDbDirectory: {dir}/data
olcDbMaxSize: 10485760
olcRootDN: cn=admin,{suffix}
olcAccess: {{0}}to attrs=userPassword by anonymous auth by * none
olcAccess: {{1}}to * by * read
"""

DATA = """\
dn: {suffix}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,{suffix}
objectClass: organizationalUnit
ou: people
"""

PERSON = """
dn: uid={uid},ou=people,{suffix}
objectClass: inetOrgPerson
uid: {uid}
cn: {uid}
sn: {uid}
userPassword: {password}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def slapd(folder: Path, people: dict[str, str]) -> Iterator[str]:
    """Start slapd with ``people`` (uid -> password); yield its ldap:// URL."""
    binary = shutil.which("slapd") or "/usr/sbin/slapd"
    slapadd = shutil.which("slapadd") or "/usr/sbin/slapadd"
    conf, data = folder / "slapd.d", folder / "data"
    conf.mkdir(parents=True)
    data.mkdir()
    (folder / "config.ldif").write_text(CONFIG.format(dir=folder, suffix=SUFFIX))
    (folder / "data.ldif").write_text(DATA.format(suffix=SUFFIX) + "".join(
        PERSON.format(uid=u, password=p, suffix=SUFFIX) for u, p in people.items()))
    subprocess.run([slapadd, "-n0", "-F", str(conf), "-l", str(folder / "config.ldif")],
                   check=True, capture_output=True, timeout=30)
    subprocess.run([slapadd, "-n1", "-F", str(conf), "-l", str(folder / "data.ldif")],
                   check=True, capture_output=True, timeout=30)
    port = _free_port()
    # -d keeps slapd in the foreground, so the test owns the process and can stop it.
    proc = subprocess.Popen([binary, "-F", str(conf), "-h", f"ldap://127.0.0.1:{port}/",
                             "-d", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"slapd did not start: {proc.stderr.read()!r}"
                                       if proc.stderr else "slapd did not start") from None
                time.sleep(0.05)
        yield f"ldap://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
