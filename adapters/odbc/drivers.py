"""Is the ODBC driver an organization's connection string names installed on this machine?

Asked once, when the adapter is built, so a missing driver is one plain configuration error
(shown by ``pishkhan run``, ``config check``, ``adapter check`` and the admin pages) rather than
a failed connection at every poll and delivery."""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from connector.domain.errors import ConfigurationError

# The Debian package that brings each driver unixODBC knows by name (lower case). The first
# three are on scripts/system-packages.sh's list; the rest are for production systems.
PACKAGES = {
    "sqlite3": "libsqliteodbc",
    "sqlite": "libsqliteodbc",
    "postgresql unicode": "odbc-postgresql",
    "postgresql ansi": "odbc-postgresql",
    "mariadb unicode": "odbc-mariadb",
    "mariadb": "odbc-mariadb",
    "freetds": "tdsodbc",
}
SYSTEM_PACKAGES = "scripts/system-packages.sh"

_DRIVER = re.compile(r"(?i)(?:^|;)\s*driver\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)")
_DSN = re.compile(r"(?i)(?:^|;)\s*dsn\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)")


def _value(match: re.Match[str] | None) -> str | None:
    if match is None:
        return None
    value = match.group(1).strip()
    if value.startswith("{") and value.endswith("}"):
        value = value[1:-1].replace("}}", "}")
    return value or None


def install_hint(driver: str) -> str:
    package = PACKAGES.get(driver.lower())
    if package:
        return f"install it with: sudo apt-get install {package} (or run {SYSTEM_PACKAGES})"
    if "sql server" in driver.lower():
        return ("install Microsoft's ODBC driver for SQL Server (package msodbcsql18 from "
                "Microsoft's repository), or use FreeTDS: sudo apt-get install tdsodbc and "
                "Driver={FreeTDS}")
    return "install its package, then check that `odbcinst -q -d` lists it"


def check_driver(connection: str, drivers: Iterable[str], sources: Iterable[str]) -> None:
    """Raise ConfigurationError when the connection names a driver (or data source) this
    machine does not have; ``drivers`` and ``sources`` are what unixODBC lists."""
    driver = _value(_DRIVER.search(connection))
    if driver is not None:
        if "/" in driver:  # a driver given by the path of its library
            if not Path(driver).is_file():
                raise ConfigurationError(f"the ODBC driver library {driver} does not exist on "
                                         "this machine — check adapter.connection")
            return
        installed = list(drivers)
        if driver.lower() not in {d.lower() for d in installed}:
            raise ConfigurationError(
                f'the ODBC driver "{driver}" is not installed on this machine, so this '
                f"organization's system cannot be reached — {install_hint(driver)}. Installed "
                f"drivers: {', '.join(installed) or 'none'}")
        return
    dsn = _value(_DSN.search(connection))
    if dsn is not None and dsn.lower() not in {s.lower() for s in sources}:
        raise ConfigurationError(f'the ODBC data source "{dsn}" is not defined on this machine '
                                 "(see odbcinst -q -s) — define it in /etc/odbc.ini or name "
                                 "the driver in adapter.connection: Driver={…};Server=…")
