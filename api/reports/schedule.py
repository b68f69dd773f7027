"""The report schedule: APScheduler jobs in the API process, one per `reports:` entry of the
routing file (weekly on Monday, monthly on the 1st, at the entry's local time), each making the
reports of the period just ended, keeping them (api/reports/archive.py) and sending them
(api/reports/sending.py). A sending that failed is retried by a periodic job of the same
scheduler (every `retry_check`, and once soon after start, so that an API restarted while a
retry was due sends it at once): it looks in the `reports` table for retries due, so the retries
live in the store and survive a restart or move to another API process.

Why the API process: it holds the builders and the renderers and serves the kept files; the
notifier sits below the API (imports go collector <- rules <- api) and cannot build them. Several
API processes may run the schedule at once: the archive's unique key lets one make each report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from api.metrics import ApiMetrics
from api.reports import retries
from api.reports.archive import KeptReport, ReportArchive
from api.reports.kinds import KINDS
from api.reports.labels import period_text
from api.reports.periods import choose
from api.reports.sending import Attempt, send
from api.reports.service import ReportService
from rules.notify.config import ReportSchedule, RoutingConfig

log = structlog.get_logger("louyu.reports")

# How long a process holds a retry it is sending: longer than sending to every receiver of a
# report takes (a webhook times out after 20 s), short enough that a crash delays it little.
RETRY_LEASE = dt.timedelta(minutes=10)


def trigger(schedule: ReportSchedule, timezone: str) -> CronTrigger:
    day = {"day_of_week": "mon"} if schedule.every == "week" else {"day": 1}
    return CronTrigger(hour=schedule.at.hour, minute=schedule.at.minute, timezone=timezone, **day)


class ReportScheduler:
    def __init__(
        self,
        service: ReportService,
        archive: ReportArchive,
        routing: RoutingConfig,
        clock: Callable[[], dt.datetime],
        *,
        metrics: ApiMetrics | None = None,
        retry_check: dt.timedelta = dt.timedelta(seconds=30),
        first_retry_check: dt.timedelta = dt.timedelta(seconds=5),
    ) -> None:
        unknown = sorted({k for s in routing.reports for k in s.kinds} - set(KINDS))
        if unknown:
            raise ValueError(
                f"routing file: unknown report kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}"
            )
        self.service, self.archive, self.routing, self.clock = service, archive, routing, clock
        self.metrics, self.retry_check, self.first_retry_check = metrics, retry_check, first_retry_check
        self._scheduler: BackgroundScheduler | None = None

    def start(self) -> None:
        timezone = self.service.registry.timezone
        self._scheduler = BackgroundScheduler(timezone=timezone)
        for index, schedule in enumerate(self.routing.reports):
            self._scheduler.add_job(
                self.run, trigger(schedule, timezone), args=[index], id=f"reports-{index}",
                max_instances=1, coalesce=True, misfire_grace_time=6 * 3600,
            )  # fmt: skip
        self._scheduler.add_job(
            self.retry_due, IntervalTrigger(seconds=self.retry_check.total_seconds(), timezone=timezone),
            id="reports-retry", max_instances=1, coalesce=True,
            next_run_time=dt.datetime.now(dt.UTC) + self.first_retry_check,
        )  # fmt: skip
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None

    def jobs(self) -> list[tuple[str, dt.datetime | None]]:
        """Each job's id and next run (for the log and the tests)."""
        if self._scheduler is None:
            return []
        return [(job.id, job.next_run_time) for job in self._scheduler.get_jobs()]

    def run(self, index: int) -> list[int]:
        """Make, keep and send the reports of one schedule entry for the period just ended;
        the ids of those this process made (none when another process made them first)."""
        schedule = self.routing.reports[index]
        now = self.clock()
        period = choose(schedule.every, self.service.registry.timezone, now)
        made: list[int] = []
        for kind in schedule.kinds:
            for lang in schedule.languages:
                report_id = self.archive.claim(kind, period, schedule.building, lang, now)
                if report_id is None:
                    continue
                try:
                    report = self.service.make(kind, period, schedule.building)
                    stem = self.service.file_stem(report, lang)
                    self.archive.keep(
                        report_id,
                        {
                            f"{stem}.pdf": self.service.render(report, "pdf", lang),
                            f"{stem}.zip": self.service.render(report, "zip", lang),
                        },
                    )
                except Exception:
                    log.exception(
                        "report_failed", kind=kind, lang=lang, period_start=period.start.isoformat()
                    )
                    self.archive.failed(report_id)
                    continue
                kept = self.archive.get(report_id)
                assert kept is not None
                pdf = self.archive.path(kept, f"{stem}.pdf")
                title = f"{report.title(lang)} · {period_text(period, self.service.registry.timezone, lang)}"
                sending = {
                    "title": title,
                    "link_base": schedule.link_base,
                    "retry": [delay.total_seconds() for delay in schedule.retry],
                }
                sent = [self._attempt(kept, sending, name, None, pdf) for name in schedule.receivers]
                self.archive.record_sent(report_id, sent, retries.next_retry(sent), sending)
                log.info("report_kept", id=report_id, kind=kind, lang=lang, sent=sum(s["ok"] for s in sent),
                         failed=sum(not s["ok"] for s in sent))  # fmt: skip
                made.append(report_id)
        return made

    def retry_due(self) -> list[int]:
        """Send again every report with a retry due, to its failed receivers only; the ids of those
        this process took (another process may take some first)."""
        now = self.clock()
        taken: list[int] = []
        for report_id, seen in self.archive.due(now):
            if not self.archive.take(report_id, seen, now + RETRY_LEASE):
                continue
            kept = self.archive.get(report_id)
            if kept is None:
                continue
            taken.append(report_id)
            try:
                sent = self._retry(kept, now)
            except Exception:
                # Left with its lease: tried again once the lease runs out.
                log.exception("report_retry_failed", id=report_id)
                continue
            self.archive.record_sent(report_id, sent, retries.next_retry(sent))
            log.info("report_retried", id=report_id, sent=sum(bool(s["ok"]) for s in sent),
                     retrying=sum(s["next_attempt_at"] is not None for s in sent),
                     gave_up=sum(bool(s.get("gave_up")) for s in sent))  # fmt: skip
        return taken

    def _retry(self, kept: KeptReport, now: dt.datetime) -> list[dict[str, Any]]:
        sending = kept.sending or {}
        pdf_name = next((name for name in kept.files if name.endswith(".pdf")), None)
        pdf = self.archive.path(kept, pdf_name) if pdf_name is not None else None
        sent: list[dict[str, Any]] = []
        for item in kept.sent:
            if retries.due(item, now):
                sent.append(self._attempt(kept, sending, item["receiver"], item, pdf))
            else:
                sent.append(item)  # delivered, given up, or not due yet: untouched
        return sent

    def _attempt(
        self,
        kept: KeptReport,
        sending: dict[str, Any],
        name: str,
        previous: dict[str, Any] | None,
        pdf: Path | None,
    ) -> dict[str, Any]:
        """One attempt to one receiver, counted, as the receiver's new entry."""
        now = self.clock()
        try:
            receiver = self.routing.receiver(name)
        except KeyError:
            found = Attempt(name, "unknown", False, "the receiver is no longer in the routing file", False)
        else:
            attempt = int((previous or {}).get("attempts", 0)) + 1
            found = send(
                receiver, kept, sending.get("title", kept.kind), pdf, sending.get("link_base"), now, attempt
            )
        delays = [dt.timedelta(seconds=s) for s in sending.get("retry", [])]
        item = retries.entry(previous, found, now, delays)
        self._count(found.channel, "ok" if found.ok else "failed" if item["gave_up"] else "retry")
        return item

    def _count(self, channel: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.report_sendings.labels(channel, outcome).inc()
