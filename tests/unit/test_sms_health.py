"""Demotion and restoration of gateways, on a clock moved by hand."""
from __future__ import annotations

from datetime import datetime

from connector.domain import clock
from connector.outbox.policy import GatewayConfig, GatewayHealth

A, B = GatewayConfig("a", "file", 1, {}), GatewayConfig("b", "file", 2, {})


def names(health, key="org"):
    return [g.name for g in health.order((B, A), key)]


def test_a_slow_or_failing_gateway_goes_last_for_a_cooldown_that_grows_then_comes_back():
    c = clock.ManualClock(datetime(2026, 11, 22, 8, 0))
    with clock.use(c):
        health = GatewayHealth(slow_seconds=5, base_cooldown=30, max_cooldown=120)
        assert names(health) == ["a", "b"]
        health.record("org", "a", ok=True, seconds=9)  # answered, but too slowly
        assert names(health) == ["b", "a"] and health.demoted("org", "a")
        assert names(health, "other-org") == ["a", "b"]  # each organization on its own
        c.advance(seconds=31)
        assert names(health) == ["a", "b"]  # tried again after the cooldown
        health.record("org", "a", ok=False, seconds=0.1)
        c.advance(seconds=31)
        assert names(health) == ["b", "a"]  # the second failure in a row: 60 s
        c.advance(seconds=30)
        health.record("org", "a", ok=True, seconds=0.2)  # one good answer restores it
        assert names(health) == ["a", "b"] and not health.demoted("org", "a")


def test_when_all_are_demoted_the_one_restored_soonest_goes_first():
    c = clock.ManualClock(datetime(2026, 11, 22, 8, 0))
    with clock.use(c):
        health = GatewayHealth(base_cooldown=30)
        health.record("org", "a", ok=False, seconds=0)
        health.record("org", "a", ok=False, seconds=0)  # 60 s
        health.record("org", "b", ok=False, seconds=0)  # 30 s
        assert names(health) == ["b", "a"]
