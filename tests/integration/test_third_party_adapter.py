"""A vendor's adapter shipped as its own distribution: installed into this environment, it is
found by name through the ``pishkhan.adapters`` entry point and used from an organization file,
with nothing of Pishkhan changed."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from connector.bootstrap import bootstrap, check_plugins
from connector.delivery import push as delivery
from connector.letters import usecases as letters
from connector.plugins.registry import ADAPTERS, names
from connector.store.db import upgrade
from tests.conftest import make_settings
from tests.integration.test_pipeline_store import submit

DIST = "pishkhan-tinyoa-test"

ADAPTER = '''
"""A correspondence system that files letters in a JSON file: the smallest real adapter."""
import json
from pathlib import Path

from connector.domain.letter import DeliveryReceipt, PollResult
from connector.domain.errors import ConfigurationError
from connector.plugins.ports import CorrespondenceSystem


class TinyAdapter(CorrespondenceSystem):
    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def from_options(cls, options, secrets):
        if "path" not in options:
            raise ConfigurationError('adapter.path is missing — write path = "/tmp/oa.json"')
        return cls(options["path"])

    def _load(self):
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def deliver(self, letter):
        held = self._load()
        held[letter.tracking_code] = {"id": str(len(held) + 1), "subject": letter.subject,
                                      "files": [a.name for a in letter.attachments]}
        self.path.write_text(json.dumps(held, ensure_ascii=False))
        return DeliveryReceipt(external_id=held[letter.tracking_code]["id"], status="pending")

    def find(self, tracking_code):
        found = self._load().get(tracking_code)
        return DeliveryReceipt(external_id=found["id"]) if found else None

    def changes(self, cursor):
        return PollResult(cursor=cursor)

    def ping(self):
        return f"ok: {self.path}"
'''


@pytest.fixture
def installed(tmp_path: Path):
    src = tmp_path / "dist"
    (src / "tinyoa").mkdir(parents=True)
    (src / "tinyoa" / "__init__.py").write_text(textwrap.dedent(ADAPTER))
    (src / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{DIST}"
        version = "1.0"

        [project.entry-points."pishkhan.adapters"]
        tinyoa = "tinyoa:TinyAdapter"

        [tool.setuptools]
        packages = ["tinyoa"]
    """))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["install", "--no-deps", "--no-build-isolation", "--no-index",
                          str(src)], check=True, capture_output=True, timeout=120)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        subprocess.run(pip + ["uninstall", "-y", DIST], check=True, capture_output=True,
                       timeout=120)
        importlib.invalidate_caches()
        sys.modules.pop("tinyoa", None)


def test_installed_adapter_is_used_by_name(installed, tmp_path: Path) -> None:
    assert "tinyoa" in names(ADAPTERS)
    settings = make_settings(tmp_path)
    store = tmp_path / "oa.json"
    org_file = settings.orgs_dir / "demo.toml"
    text = org_file.read_text("utf-8")
    start = text.index("[adapter]")
    end = text.index("[sms]")
    org_file.write_text(text[:start] + f'[adapter]\ntype = "tinyoa"\npath = "{store}"\n\n'
                        + text[end:], "utf-8")
    settings = make_settings(tmp_path)
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        assert check_plugins(px) == []
        code = submit(px).tracking_code
        assert delivery.run_once(px) >= 1
        letter = letters.get(px, code)
        assert letter.state == "delivered" and letter.external_id == "1"
        held = json.loads(store.read_text())
        assert held[code]["files"] == ["عکس.pdf"]
    finally:
        px.close()


def test_an_adapter_that_is_not_installed_is_named(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    org_file = settings.orgs_dir / "demo.toml"
    org_file.write_text(org_file.read_text("utf-8").replace('type = "soap"', 'type = "tinyoa"'),
                        "utf-8")
    px = bootstrap(settings)
    try:
        problems = check_plugins(px)
        assert any("tinyoa" in p.message and "installed" in p.message for p in problems), problems
    finally:
        px.close()
