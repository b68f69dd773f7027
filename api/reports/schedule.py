"""The report schedule: APScheduler jobs in the API process, one per `reports:` entry of the
routing file (weekly on Monday, monthly on the 1st, at the entry's local time), each making the
reports of the period just ended, keeping them (api/reports/archive.py) and sending them
(api/reports/sending.py).

Why the API process: it holds the builders and the renderers and serves the kept files; the
notifier sits below the API (imports go collector <- rules <- api) and cannot build them. Several
API processes may run the schedule at once: the archive's unique key lets one make each report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from api.reports.archive import ReportArchive
from api.reports.kinds import KINDS
from api.reports.labels import period_text
from api.reports.periods import choose
from api.reports.sending import send
from api.reports.service import ReportService
from rules.notify.config import ReportSchedule, RoutingConfig

log = structlog.get_logger("louyu.reports")


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
    ) -> None:
        unknown = sorted({k for s in routing.reports for k in s.kinds} - set(KINDS))
        if unknown:
            raise ValueError(
                f"routing file: unknown report kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}"
            )
        self.service, self.archive, self.routing, self.clock = service, archive, routing, clock
        self._scheduler: BackgroundScheduler | None = None

    def start(self) -> None:
        timezone = self.service.registry.timezone
        self._scheduler = BackgroundScheduler(timezone=timezone)
        for index, schedule in enumerate(self.routing.reports):
            self._scheduler.add_job(
                self.run, trigger(schedule, timezone), args=[index], id=f"reports-{index}",
                max_instances=1, coalesce=True, misfire_grace_time=6 * 3600,
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
                sent = [
                    send(self.routing.receiver(name), kept, title, pdf, schedule.link_base, self.clock())
                    for name in schedule.receivers
                ]
                self.archive.record_sent(report_id, sent)
                log.info("report_kept", id=report_id, kind=kind, lang=lang, sent=sum(s["ok"] for s in sent),
                         failed=sum(not s["ok"] for s in sent))  # fmt: skip
                made.append(report_id)
        return made
