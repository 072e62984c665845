"""The core must not depend on any delivery mechanism or plugin: adapters and gateways are
reached by name only."""
import pkgutil
import subprocess
import sys
from pathlib import Path

import connector

FORBIDDEN = ["flask", "werkzeug", "zeep", "pyodbc", "portal", "adapters", "sms", "sandbox"]


def test_importing_every_core_module_pulls_in_nothing_forbidden():
    modules = [m.name for m in pkgutil.walk_packages(connector.__path__, "connector.")
               if ".migrations" not in m.name and not m.name.endswith("__main__")]
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\nprint(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(connector.__file__).parent.parent, check=True)
    assert out.stdout.strip() == "", f"connector imports {out.stdout.strip()}"
    assert len(modules) > 10


def test_no_core_source_names_a_forbidden_package():
    root = Path(connector.__file__).parent
    for path in root.rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                top = stripped.split()[1].split(".")[0]
                assert top not in FORBIDDEN, f"{path.name}: {stripped}"
