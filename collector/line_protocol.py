"""InfluxDB line protocol for validated readings (contract section 2).

Hand-written rather than influxdb-client's `Point`, which costs about 6 us a point: this is the
collector's hot path. Inputs are already validated (finite floats, 64-bit integers, enum or date
strings), so encoding cannot produce a line InfluxDB would refuse; escaping still covers every
character that line protocol treats specially, for registry tags.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from collector.models import FieldValue, Reading

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\", "\n": " ", "\r": " "})


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def escape_string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def encode_field(value: FieldValue) -> str:
    # bool before int: bool is a subclass of int.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("line protocol cannot carry NaN or infinity")
        return repr(value)
    return escape_string_field(value)


def tag_set(building: str, device: str, extra: Mapping[str, str]) -> str:
    """`building=..,device=..[,floor=..,zone=..]`, keys sorted as InfluxDB prefers."""
    tags = {"building": building, "device": device, **extra}
    return ",".join(f"{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)


def line_prefix(kind: str, tags: str) -> str:
    """`measurement,tags ` : what every line of one device starts with (cached per device)."""
    return f"{kind},{tags} "


def encode_fields(fields: Mapping[str, FieldValue]) -> str:
    """The field set. One loop with the type tests inline: this runs for every reading, and a
    function call per field costs more than the formatting itself."""
    parts = []
    for name, value in fields.items():
        cls = type(value)
        if cls is bool:
            parts.append(f"{name}=true" if value else f"{name}=false")
        elif cls is int:
            parts.append(f"{name}={value}i")
        elif cls is float:
            if not math.isfinite(value):  # type: ignore[arg-type]
                raise ValueError("line protocol cannot carry NaN or infinity")
            parts.append(f"{name}={value!r}")
        else:
            parts.append(f"{name}={encode_field(value)}")
    return ",".join(parts)


def encode_line(prefix: str, reading: Reading) -> bytes:
    """One line, newline-terminated, millisecond timestamp, after a `line_prefix`."""
    return f"{prefix}{encode_fields(reading.fields)} {reading.ts_ms}\n".encode()


def encode(reading: Reading, tags: str) -> bytes:
    """One line, newline-terminated, millisecond timestamp."""
    return encode_line(line_prefix(reading.kind, tags), reading)
