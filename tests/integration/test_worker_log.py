"""The worker's log stays readable while an outbox run outlasts its tick on purpose."""
from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from connector.cli.worker import add_jobs


def test_a_skipped_tick_is_news_only_for_jobs_meant_to_be_short(px, caplog):
    scheduler = BackgroundScheduler()
    dispatcher = add_jobs(scheduler, px)
    try:
        scheduled = logging.getLogger("apscheduler.scheduler")
        with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler"):
            for job_id in ("sms", "webhooks", "mail", "poll:demo"):
                # APScheduler's own words when a tick finds the run before still going.
                scheduled.warning('Execution of job "%s" skipped: maximum number of running '
                                  "instances reached (%d)", scheduler.get_job(job_id), 1)
        skipped = [r.getMessage() for r in caplog.records]
        assert len(skipped) == 1 and "poll demo" in skipped[0]
    finally:
        dispatcher.close()
