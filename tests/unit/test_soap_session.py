"""The SOAP adapter's requests session reads the environment once per host, and still obeys it:
proxies (with NO_PROXY) and a CA bundle, which an admin's own CA setting overrides."""
from __future__ import annotations

import pytest

from adapters.soap.transport import PinnedSession

URL = "https://oa.example.ir/services/letters.asmx"


def _settings(session: PinnedSession, url: str = URL) -> dict:
    return session.merge_environment_settings(url, {}, None, None, None)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                 "no_proxy", "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert _settings(PinnedSession())["proxies"]["https"] == "http://proxy.local:3128"


def test_no_proxy_is_obeyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    monkeypatch.setenv("NO_PROXY", "oa.example.ir")
    assert "https" not in _settings(PinnedSession())["proxies"]
    other = _settings(PinnedSession(), "https://sms.example.ir/send")
    assert other["proxies"]["https"] == "http://proxy.local:3128"


def test_environment_read_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    session = PinnedSession()
    assert "https" not in _settings(session)["proxies"]
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert "https" not in _settings(session)["proxies"]  # the first reading stands
    assert _settings(session, "https://other.example.ir/x")["proxies"]["https"] \
        == "http://proxy.local:3128"


def test_ca_bundle_of_the_environment_unless_the_admin_set_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/system-bundle.pem")
    assert _settings(PinnedSession())["verify"] == "/etc/ssl/system-bundle.pem"
    pinned = PinnedSession()
    pinned.verify = "/etc/pishkhan/oa-ca.pem"
    assert _settings(pinned)["verify"] == "/etc/pishkhan/oa-ca.pem"
    unverified = PinnedSession()
    unverified.verify = False
    assert _settings(unverified)["verify"] is False
