"""A whole Pishkhan on loopback: the sandbox, the portal and the worker's scheduler, each a real
server or thread, talking HTTP and SOAP to each other as in production."""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from connector.bootstrap import Pishkhan, bootstrap
from connector.cli import worker
from connector.store.db import upgrade
from tests.conftest import make_settings

# One Chromium (one Playwright) for the whole run, shared by every browser test module.
from tests.e2e.browser import browser  # noqa: E402,F401  (the fixture)
from tests.sandbox_server import start_sandbox

POLL_SECONDS = 1.0


@dataclass
class Stack:
    px: Pishkhan
    portal: str
    sandbox: str

    def api(self, method: str, path: str, token: str | None = None, **kw: Any
            ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, f"{self.portal}/api/v1{path}", headers=headers,
                                timeout=10, **kw)

    def oa(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.sandbox}/api{path}", timeout=10, **kw)

    def login(self, mobile: str) -> str:
        assert self.api("POST", "/otp", json={"mobile": mobile}).status_code == 202
        from tests.phone import otp_code
        code = otp_code(self.px, mobile)
        resp = self.api("POST", "/otp/verify", json={"mobile": mobile, "code": code})
        assert resp.status_code == 200, resp.text
        return resp.json()["token"]

    def sms_to(self, mobile: str, kind: str | None = None) -> list[dict[str, Any]]:
        from connector.outbox.sms import listing
        return [n for n in listing(self.px, to=mobile) if kind is None or n["kind"] == kind]


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.2)


def _serve(app: Any) -> tuple[str, Callable[[], None]]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    from portal import create_app

    sandbox_url, _, stop_sandbox = start_sandbox(tmp_path / "oa")
    settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=sandbox_url,
                             PISHKHAN_DELIVERY_INTERVAL="0.3", PISHKHAN_SMS_INTERVAL="0.3")
    for path in settings.orgs_dir.glob("*.toml"):
        text = re.sub(r"(?m)^poll_interval = .*$", f"poll_interval = {POLL_SECONDS}",
                      path.read_text(encoding="utf-8"))
        path.write_text(text, encoding="utf-8")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    portal_url, stop_portal = _serve(create_app(px, {"TESTING": True}))
    scheduler = worker.start_background(px)
    try:
        yield Stack(px=px, portal=portal_url, sandbox=sandbox_url)
    finally:
        scheduler.shutdown(wait=True)
        stop_portal()
        stop_sandbox()
        px.close()
