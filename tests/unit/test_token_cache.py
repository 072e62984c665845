"""The per-process cache of bearer tokens: a sign-out stands even when the marker the other
processes read cannot be written."""
from __future__ import annotations

from datetime import datetime, timedelta

from connector.people.token_cache import TokenCache


def test_a_revocation_forgets_here_even_when_the_marker_cannot_be_written(tmp_path, caplog):
    blocker = tmp_path / "var"
    blocker.write_text("a file where the var folder should be")
    cache = TokenCache(blocker / "tokens-revoked")
    at = datetime(2026, 11, 29, 12, 0)
    cache.put("k", "09121234567", at + timedelta(hours=1), cache.generation())
    assert cache.get("k", at) == "09121234567"
    cache.revoked()  # must not raise: the revocation is already committed
    assert cache.get("k", at) is None
    assert "other processes may accept" in caplog.text


def test_a_revocation_in_another_process_makes_entries_stale(tmp_path):
    marker = tmp_path / "tokens-revoked"
    here, there = TokenCache(marker), TokenCache(marker)
    at = datetime(2026, 11, 29, 12, 0)
    here.put("k", "09121234567", at + timedelta(hours=1), here.generation())
    there.revoked()
    assert here.get("k", at) is None
