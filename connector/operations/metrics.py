"""Numbers for monitoring, read from the database at each scrape: every web and worker
process then reports the same totals, and they match the dashboard. Letter counts come from
the tallies kept with each change (:mod:`connector.store.tallies`), not from a scan."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from connector.domain.clock import now
from connector.store import tallies
from connector.store.models import Event, Letter, OrgState

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

# Delivery latency is measured over letters delivered in this window.
LATENCY_WINDOW = timedelta(hours=24)
QUANTILES = (0.5, 0.9, 0.99)


@dataclass
class Snapshot:
    letters: dict[tuple[str, str], int] = field(default_factory=dict)  # (org, state) -> n
    oldest: dict[tuple[str, str], float] = field(default_factory=dict)  # seconds
    sms: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (org, state, gateway)
    poll_lag: dict[str, float] = field(default_factory=dict)
    poll_ok: dict[str, bool] = field(default_factory=dict)
    paused: dict[str, bool] = field(default_factory=dict)
    # org -> (count, sum of seconds, {quantile: seconds}) over LATENCY_WINDOW
    latency: dict[str, tuple[int, float, dict[float, float]]] = field(default_factory=dict)


def _latencies(px: Pishkhan) -> dict[str, list[float]]:
    """Seconds from the moment a letter could go (handed in, or approved) to its delivery by us
    (our own ``delivered``/``registered`` event, not one reported later by a poll)."""
    since = now() - LATENCY_WINDOW
    with px.sessions() as s:
        delivered = dict(s.execute(
            select(Event.letter_id, func.min(Event.at))
            .where(Event.kind.in_(("delivered", "registered")),
                   Event.source_id.startswith("pishkhan:"), Event.at >= since)
            .group_by(Event.letter_id)).all())
        if not delivered:
            return {}
        ready = dict(s.execute(
            select(Event.letter_id, func.max(Event.at))
            .where(Event.kind.in_(("submitted", "approved")),
                   Event.letter_id.in_(list(delivered)))
            .group_by(Event.letter_id)).all())
        orgs = dict(s.execute(select(Letter.id, Letter.org)
                              .where(Letter.id.in_(list(delivered)))).all())
    out: dict[str, list[float]] = {}
    for letter_id, at in delivered.items():
        if letter_id in ready and letter_id in orgs:
            out.setdefault(orgs[letter_id], []).append(
                max(0.0, (at - ready[letter_id]).total_seconds()))
    return out


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def snapshot(px: Pishkhan) -> Snapshot:
    snap = Snapshot()
    t = now()
    snap.letters = tallies.letter_counts(px)
    for key, oldest in tallies.oldest(px, snap.letters).items():
        snap.oldest[key] = max(0.0, (t - oldest).total_seconds())
    snap.sms = tallies.sms_counts(px)
    with px.sessions() as s:
        for st in s.scalars(select(OrgState)):
            snap.paused[st.org] = st.paused
            if st.last_poll_ok_at:
                snap.poll_lag[st.org] = max(0.0, (t - st.last_poll_ok_at).total_seconds())
            snap.poll_ok[st.org] = not st.last_poll_error
    for org, values in _latencies(px).items():
        snap.latency[org] = (len(values), sum(values),
                             {q: _quantile(values, q) for q in QUANTILES})
    return snap
