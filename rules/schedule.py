"""When a rule is active: weekdays and hour ranges in a timezone (the registry's by default)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: Final[tuple[Day, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _minutes(text: str) -> tuple[int, int]:
    match = _RANGE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an hour range like 11:00-13:30")
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if end > 24 * 60:
        raise ValueError(f"{text!r} ends after 24:00")
    if start == end:
        raise ValueError(f"{text!r} is empty")
    return start, end


class Schedule(BaseModel):
    """`{days: [mon, tue, wed, thu, fri], hours: ["10:30-13:30", "17:00-19:30"]}`.

    A range that ends before it starts runs past midnight (22:00-06:00) and belongs to the day
    it starts on. No `hours` means all day; no `days` means every day.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Day] = Field(default_factory=lambda: list(DAYS), min_length=1)
    hours: list[str] = Field(default_factory=lambda: ["00:00-24:00"], min_length=1)
    timezone: str | None = None

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, value: list[str]) -> list[str]:
        for item in value:
            _minutes(item)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise ValueError(f"unknown timezone {value!r}") from error
        return value

    def active(self, now: dt.datetime, default_tz: str) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone or default_tz))
        minute = local.hour * 60 + local.minute
        today = DAYS[local.weekday()]
        yesterday = DAYS[(local.weekday() - 1) % 7]
        for item in self.hours:
            start, end = _minutes(item)
            if start < end:
                if today in self.days and start <= minute < end:
                    return True
            elif (today in self.days and minute >= start) or (yesterday in self.days and minute < end):
                return True
        return False
