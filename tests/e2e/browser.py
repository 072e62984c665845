"""Debian's Chromium driven by Playwright at a phone's size, with an axe-core scan and a
screenshot of every page the test visits.

The browser is the system one (`apt-get install chromium`, in .ci/run): `playwright install`
downloads browsers at test time, which CI machines without internet can't do.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
# A cheap Android phone.
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 1, "locale": "fa-IR", "timezone_id": "Asia/Tehran"}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
MAX_PAGE_BYTES = 100_000  # each page with its stylesheet and script, without the font


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        yield browser
        browser.close()


class Visit:
    """One citizen's phone: every `check` scans the page with axe and saves a screenshot."""

    def __init__(self, browser: Any, name: str, javascript: bool = True) -> None:
        # bypass_csp lets the test inject axe; the portal's pages run no inline script.
        self.javascript = javascript
        self.context = browser.new_context(**PHONE, bypass_csp=True, accept_downloads=True,
                                           java_script_enabled=javascript)
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.folder = ARTIFACTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0
        self.scanned: list[str] = []
        self.weights: dict[str, int] = {}

    def check(self, label: str) -> None:
        page = self.page
        lang = page.evaluate("document.documentElement.lang")
        assert lang in ("fa", "en"), label
        assert page.evaluate("document.documentElement.dir") == \
            ("ltr" if lang == "en" else "rtl"), label
        # Nothing wider than the phone: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), \
            label
        if self.javascript:
            # Everything the page loaded, uncompressed, but the font (cached once per phone).
            weight = page.evaluate("""() => performance.getEntries()
                .filter(e => e.entryType === 'navigation' || e.entryType === 'resource')
                .filter(e => !e.name.endsWith('.woff2'))
                .reduce((sum, e) => sum + (e.decodedBodySize || 0), 0)""")
            assert 0 < weight < MAX_PAGE_BYTES, f"{label}: {weight} bytes"
            self.weights[label] = weight
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{label}.png"), full_page=True)
        if not self.javascript:
            return
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
        bad = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                "nodes": [n["html"][:200] for n in v["nodes"][:3]]}
               for v in result["violations"] if v["impact"] in BLOCKING]
        assert not bad, f"{label} ({page.url}):\n" + json.dumps(bad, ensure_ascii=False, indent=1)
        self.scanned.append(re.sub(r"https?://[^/]+", "", page.url))

    def close(self) -> None:
        (self.folder / "page-weights.json").write_text(json.dumps(self.weights, indent=1))
        self.context.close()
