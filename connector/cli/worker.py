"""The scheduler process: one APScheduler (3.x) per worker process, ticking delivery, routing
polls (each organization at its own interval), the SMS outbox, the webhook outbox, the daily
digest and the daily retention run. Several workers may share one PostgreSQL: every tick claims
its rows in the database first."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from connector.delivery import documents, polling
from connector.delivery.dispatcher import Dispatcher
from connector.domain.clock import TEHRAN
from connector.operations import digest, retention
from connector.outbox import inbound, sms_status, webhooks
from connector.outbox import mail as mail_outbox
from connector.outbox import sms as sms_outbox
from connector.store import audit, planner_stats, tallies, wakeup
from connector.visits import usecases as visits

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)
# Jobs whose runs outlast their interval on purpose: a run goes on while there is work
# (connector/outbox/runs.py), and the tick meanwhile only finds it still running.
LONG_RUNS = frozenset({"sms", "webhooks", "mail"})


class _LongRunsExpected(logging.Filter):
    """Drops APScheduler's warning that a tick was skipped because the run before is still
    going, for :data:`LONG_RUNS` only: while a queue is busy it would come every second."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances" not in str(record.msg) or not record.args:
            return True
        job = record.args[0] if isinstance(record.args, tuple) else None
        return getattr(job, "name", None) not in LONG_RUNS


def _guarded(name: str, fn: Callable[[], Any]) -> Callable[[], None]:
    # A tick that fails must not stop the scheduler; the next tick tries again.
    def run() -> None:
        try:
            fn()
        except Exception:
            log.exception("%s tick failed", name)
    return run


def add_jobs(scheduler: BaseScheduler, px: Pishkhan) -> Dispatcher:
    opts = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
    scheduled = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _LongRunsExpected) for f in scheduled.filters):
        scheduled.addFilter(_LongRunsExpected())
    # Deliveries run on the dispatcher's own threads, per organization; the tick only tops up
    # free slots (the safety net under PostgreSQL's wake-ups, the trigger on SQLite).
    dispatcher = Dispatcher(px)
    scheduler.add_job(_guarded("delivery", dispatcher.pump), "interval",
                      seconds=px.settings.delivery_interval, id="delivery", name="delivery",
                      **opts)
    scheduler.add_job(_guarded("audit seal", lambda: audit.seal(px)), "interval",
                      seconds=px.settings.audit_seal_seconds, id="audit-seal", name="audit seal",
                      **opts)
    scheduler.add_job(_guarded("tallies", lambda: tallies.fold(px)), "interval", seconds=10,
                      id="tallies", name="tallies", **opts)
    # On PostgreSQL a table that grows fast is analysed within a minute, as autovacuum would
    # (which may be off): the plans made while it was small would otherwise read it whole.
    scheduler.add_job(_guarded("statistics", lambda: planner_stats.refresh(px.engine)),
                      "interval", minutes=1 if px.engine.dialect.name == "postgresql" else 60,
                      id="statistics", name="statistics", **opts)
    scheduler.add_job(_guarded("sms", lambda: sms_outbox.dispatch_due(px)), "interval",
                      seconds=px.settings.sms_interval, id="sms", name="sms", **opts)
    outbox = digest.FileOutbox(px.settings.var_dir / "digests")
    scheduler.add_job(_guarded("digest", lambda: digest.run_daily(px, outbox)), "cron",
                      hour=px.settings.digest_hour, minute=0, id="digest", name="digest",
                      **{**opts, "misfire_grace_time": 3600})
    # Destruction of expired data, daily; safe to run on every worker at once (retention.py).
    scheduler.add_job(_guarded("retention", lambda: retention.run(px)), "cron",
                      hour=px.settings.retention_hour, minute=17, id="retention",
                      name="retention", **{**opts, "misfire_grace_time": 3600})
    scheduler.add_job(_guarded("sms status", lambda: sms_status.check_statuses(px)),
                      "interval", seconds=15, id="sms-status", name="sms status", **opts)
    scheduler.add_job(_guarded("sms sweep", lambda: sms_status.sweep(px)), "interval",
                      minutes=10, id="sms-sweep", name="sms sweep", **opts)
    scheduler.add_job(_guarded("webhooks", lambda: webhooks.dispatch_due(px)), "interval",
                      seconds=px.settings.webhook_interval,
                      id="webhooks", name="webhooks", **opts)
    scheduler.add_job(_guarded("visits expiry", lambda: visits.expire_due(px)), "interval",
                      minutes=5, id="visits-expiry", name="visits expiry", **opts)
    scheduler.add_job(_guarded("mail", lambda: mail_outbox.dispatch_due(px)), "interval",
                      seconds=px.settings.sms_interval * 5, id="mail", name="mail", **opts)
    scheduler.add_job(_guarded("documents", lambda: documents.push_pending(px)), "interval",
                      seconds=px.settings.delivery_interval * 2, id="documents",
                      name="documents", **opts)
    # Texts citizens send to the organizations' lines (tracking by SMS).
    inbox_every = px.settings.sms_inbox_interval
    scheduler.add_job(_guarded("sms inbox", lambda: inbound.poll_all(px)), "interval",
                      seconds=inbox_every, id="sms-inbox", name="sms inbox", **opts)
    for slug, org in px.orgs.items():
        scheduler.add_job(_guarded(f"poll {slug}", lambda s=slug: polling.poll_org(px, s)),
                          "interval", seconds=org.poll_interval, id=f"poll:{slug}",
                          name=f"poll {slug}", **opts)
    return dispatcher


def run(px: Pishkhan) -> None:
    scheduler = BlockingScheduler(timezone=TEHRAN)
    dispatcher = add_jobs(scheduler, px)
    listener = wakeup.Listener(px.engine, dispatcher.wake)
    if px.settings.delivery_listen:
        listener.start()
    log.info("worker started: %s organizations", len(px.orgs))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler.running:
            # Let the ticks in flight finish their calls and commit, rather than cut them off.
            scheduler.shutdown(wait=True)
        listener.stop()
        dispatcher.close()
    log.info("worker stopped")


def start_background(px: Pishkhan) -> BackgroundScheduler:
    """A worker inside another process (tests, a single-process demo)."""
    scheduler = BackgroundScheduler(timezone=TEHRAN)
    dispatcher = add_jobs(scheduler, px)
    listener = wakeup.Listener(px.engine, dispatcher.wake)
    if px.settings.delivery_listen:
        listener.start()

    def _stop(event: Any) -> None:
        listener.stop()
        dispatcher.close()
    scheduler.add_listener(_stop, EVENT_SCHEDULER_SHUTDOWN)
    scheduler.start()
    return scheduler
