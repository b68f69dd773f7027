"""The Smart Data Models' published JSON schemas (vendored in tests/notify/schemas, see its README),
as validators that resolve every `$ref` offline."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import FormatChecker
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry as SchemaRegistry
from referencing import Resource
from referencing.exceptions import NoSuchResource

from rules.notify.ngsi_ld import TYPES

SCHEMAS = Path(__file__).parent / "schemas"
formats = FormatChecker()


@formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


def _load(file: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / file).read_text("utf-8"))
    return loaded


def _offline(uri: str) -> Resource[Any]:
    # Every $ref must resolve from the vendored files: a network fetch is a test failure.
    raise NoSuchResource(uri)


@cache
def validator(name: str) -> Validator:
    schemas = SchemaRegistry(retrieve=_offline)  # type: ignore[call-arg]
    for file in ("common-schema.json", *(f"{t}.schema.json" for t in TYPES)):
        contents = _load(file)
        schemas = schemas.with_resource(contents["$id"], Resource.from_contents(contents))
    schema = _load(f"{name}.schema.json")
    cls = validator_for(schema)
    found: Validator = cls(schema, registry=schemas, format_checker=formats)
    return found
