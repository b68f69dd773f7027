"""`/api/v1/devices/{building}/{kind}/{device}/history`: aggregated or raw readings from InfluxDB."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import AUTH_RESPONSES, Devices, Now, Reader, RegistryDep, State
from api.device_models import HistoryPoint, HistoryPublic
from api.history import EVERY_PATTERN, FIELDS, NUMERIC, HistoryRequestError, Mode, influxql, plan
from api.influx import InfluxError
from api.models import KindName, Problem
from collector.models import DeviceKey

router = APIRouter(tags=["devices"], responses=AUTH_RESPONSES)

NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
DEFAULT_SPAN: Final = dt.timedelta(hours=6)
# Times InfluxDB can hold (nanoseconds in an int64 end in 2262); outside them a request is a mistake.
EARLIEST: Final = dt.datetime(1970, 1, 2, tzinfo=dt.UTC)
LATEST: Final = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


@router.get(
    "/api/v1/devices/{building}/{kind}/{device}/history",
    response_model=HistoryPublic,
    responses={
        400: {
            "model": Problem,
            "description": "unknown field, bad range or window, or too many points (aggregated: "
            "range / every over the limit, refused before querying; raw: the range holds more "
            "stored points than the limit)",
        },
        404: {"model": Problem, "description": "neither registered nor ever seen"},
        502: {"model": Problem, "description": "InfluxDB answered with an error"},
        503: {"model": Problem, "description": "no InfluxDB configured or reachable"},
    },
)
async def history(
    building: Annotated[str, Path(pattern=NAME_PATTERN, examples=["darong-a"])],
    kind: KindName,
    device: Annotated[str, Path(pattern=NAME_PATTERN, examples=["garage"])],
    _: Reader,
    app: State,
    registry: RegistryDep,
    devices: Devices,
    now: Now,
    field: Annotated[
        str,
        Query(max_length=64, description="a field of the kind (contract section 2)", examples=["occupied"]),
    ],
    start: Annotated[
        dt.datetime | None,
        Query(description="RFC 3339; default: end - 6 h", examples=["2026-11-27T08:00:00+08:00"]),
    ] = None,
    end: Annotated[
        dt.datetime | None,
        Query(description="RFC 3339; default: now", examples=["2026-11-27T20:00:00+08:00"]),
    ] = None,
    every: Annotated[
        str | None,
        Query(
            max_length=16,
            # In the schema, not enforced by FastAPI: plan() answers a bad window with a 400
            # that says what is wrong, as it always has.
            json_schema_extra={"pattern": EVERY_PATTERN},
            description="aggregation window: number and unit ms|s|m|h|d, at most 366d (400 beyond); "
            "default: about 500 points. Not with agg=raw (400)",
            examples=["15m"],
        ),
    ] = None,
    agg: Annotated[
        Mode | None,
        Query(
            description="mean, max, min or last of each `every` window; or raw: every stored point "
            "of the field in the range, oldest first, any field type (the answer then says "
            'agg "raw" and every null). Default: mean for numbers, last for booleans and strings',
            examples=["max", "raw"],
        ),
    ] = None,
) -> HistoryPublic:
    """One field of one device over a bounded range: one value per `every` window (empty
    windows left out), or with `agg=raw` the stored points themselves, oldest first. A request
    that would return more than the point limit (10,000 by default) is refused with 400."""
    end_at = _aware(end, "end") if end is not None else now
    start_at = _aware(start, "start") if start is not None else end_at - DEFAULT_SPAN
    key = DeviceKey(building, kind, device)
    if registry.get(building, kind, device) is None and devices.get(key) is None:
        raise HTTPException(404, f"device {key} is neither registered nor ever seen")
    field_type = FIELDS[kind].get(field)
    chosen: Mode = agg or ("mean" if field_type in NUMERIC else "last")
    try:
        query = plan(
            building,
            kind,
            device,
            field,
            chosen,
            int(start_at.timestamp() * 1000),
            int(end_at.timestamp() * 1000),
            every,
            app.config.history_max_points,
        )
    except HistoryRequestError as error:
        raise HTTPException(400, str(error)) from error
    if app.history is None:
        raise HTTPException(503, "no InfluxDB is configured for history")
    try:
        results = await app.history.query(influxql(query))
    except InfluxError as error:
        status = 503 if error.unreachable else 502
        raise HTTPException(status, f"InfluxDB: {str(error)[:300]}") from error
    points = [
        HistoryPoint(t=dt.datetime.fromtimestamp(row[0] / 1000, dt.UTC), v=row[1])
        for series in (results[0] if results else [])
        for row in series.values
        if len(row) >= 2
    ]
    if query.too_many(len(points)):
        raise HTTPException(
            400,
            f"that range holds more than {query.max_points} points of {field}, the limit: "
            "use a shorter range, or an aggregation (agg=mean, max, min or last with every)",
        )
    return HistoryPublic(
        building=building,
        kind=kind,
        device=device,
        field=field,
        agg=chosen,
        every=query.every,
        start=start_at,
        end=end_at,
        points=points,
    )


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None:
        raise HTTPException(400, f"{name} needs a UTC offset (RFC 3339), e.g. 2026-11-27T09:00:00+08:00")
    if not EARLIEST <= value <= LATEST:
        raise HTTPException(400, f"{name} must lie between 1970 and 2200")
    return value
