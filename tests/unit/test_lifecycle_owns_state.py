"""A letter's state changes in one place: connector/letters/lifecycle.py. Read every module of
the product and refuse any other writer; then try one at run time."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from connector.letters import lifecycle
from connector.store.models import Letter

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("connector", "portal", "adapters", "sms")
OWNER = ROOT / "connector" / "letters" / "lifecycle.py"


def _writers(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "state":
                found.append(f"{path.relative_to(root)}:{node.lineno}: assigns .state")
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            keys = {k.arg for k in node.keywords}
            if name == "Letter" and "state" in keys:
                found.append(f"{path.relative_to(root)}:{node.lineno}: builds a Letter with a state")
            if name == "values" and "state" in keys and "Letter" in ast.unparse(node.func):
                found.append(f"{path.relative_to(root)}:{node.lineno}: bulk-updates letters' state")
    return found


def test_only_the_lifecycle_module_writes_a_letters_state():
    offenders = [line for package in PRODUCT for path in sorted((ROOT / package).rglob("*.py"))
                 if path != OWNER for line in _writers(path)]
    assert offenders == []


def test_the_scan_sees_a_writer(tmp_path):
    # The scan itself must be able to fail.
    sample = tmp_path / "writer.py"
    sample.write_text("def f(letter):\n    letter.state = 'closed'\n"
                      "Letter(state='staged')\n", encoding="utf-8")
    assert _writers(sample, tmp_path) == ["writer.py:2: assigns .state",
                                          "writer.py:3: builds a Letter with a state"]


def test_a_state_written_outside_the_lifecycle_is_refused_at_run_time():
    letter = lifecycle.new_letter(tracking_code="1", org="demo")
    with pytest.raises(RuntimeError, match="lifecycle"):
        letter.state = "closed"
    with pytest.raises(RuntimeError, match="lifecycle"):
        Letter(state="staged")
