#!/bin/sh
# The one list of Debian packages Pishkhan needs from the operating system, and the script that
# makes sure they are there. `make run` calls it with `runtime`, `make test` and `.ci/run` with
# `test` (runtime + test). When everything is present it says nothing and takes a moment (one
# dpkg-query, no apt-get update). When something is missing it installs it as root or through
# sudo; if it cannot, it prints the one command to run and carries on, so the rest still works.
#
# Usage: scripts/system-packages.sh [runtime|test] [--print]   (--print: list the packages)
set -u

# What the product needs at run time: unixODBC and the ODBC drivers of the organizations' systems
# (SQLite3 for the demo-odbc organization, PostgreSQL Unicode, MariaDB Unicode).
RUNTIME="unixodbc odbc-postgresql odbc-mariadb libsqliteodbc"

# What the tests need on top: unixODBC's headers (pyodbc builds from source where no wheel
# fits), poppler/zbar (reading the PDF receipt and its QR code back), slapd + ldap-utils (a real
# LDAP server for directory sign-in), Debian's Chromium (the Playwright browser tests drive
# /usr/bin/chromium; `playwright install` is never run), the servers the tests talk to over
# loopback — PostgreSQL, MariaDB and Redis (their start and trust setup is the machine's job;
# see README.md) — and nginx, run by the deployment test in front of two portal processes
# with the site shipped in deploy/ — and clamav-daemon (a real clamd for the virus-scan tests,
# fed a one-signature EICAR database the tests write; freshclam is never run).
TEST="unixodbc-dev poppler-utils zbar-tools slapd ldap-utils chromium
postgresql mariadb-server redis-server nginx clamav-daemon"

which="${1:-runtime}"
case "$which" in
    runtime) wanted="$RUNTIME" ;;
    test) wanted="$RUNTIME $TEST" ;;
    *) echo "usage: $0 [runtime|test] [--print]" >&2; exit 2 ;;
esac
# Debian's own python3 leaves out venv's pip bootstrap; `make` needs it to create .venv.
python="${PYTHON:-python3}"
if ! "$python" -c "import ensurepip" >/dev/null 2>&1; then
    wanted="$wanted python3-venv"
fi
wanted=$(echo $wanted)  # one line, single spaces

if [ "${2:-}" = "--print" ]; then
    echo "$wanted"
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system-packages: not a Debian system; make sure these (or your system's equivalents)" \
         "are installed: $wanted" >&2
    exit 0
fi

# One dpkg-query for the lot; a package is present when its status reads "install ok installed".
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $wanted 2>/dev/null \
            | awk '$NF == "installed" { print $1 }')
missing=""
for pkg in $wanted; do
    case " $(echo $installed) " in
        *" $pkg "*) ;;
        *) missing="$missing $pkg" ;;
    esac
done
missing=$(echo $missing)
[ -z "$missing" ] && exit 0

command="sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends $missing'"
# CI sets PISHKHAN_PACKAGES_STRICT=1: there a package that could not be installed is a failure.
fail=0
[ "${PISHKHAN_PACKAGES_STRICT:-0}" = 1 ] && fail=1
if [ "$(id -u)" = 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    run="sudo"  # asks for the password at a terminal; never hangs where nobody can answer
else
    echo "system-packages: missing $missing. Install them with:" >&2
    echo "  $command" >&2
    [ "$fail" = 1 ] || echo "  (carrying on without them; whatever needs them will say so)" >&2
    exit "$fail"
fi
echo "system-packages: installing $missing" >&2
if $run env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
   $run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       $missing >/dev/null; then
    exit 0
fi
echo "system-packages: installing failed. Install them with:" >&2
echo "  $command" >&2
exit "$fail"
