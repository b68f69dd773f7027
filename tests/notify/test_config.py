"""The routing file: validation errors carry the line of the mistake."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.notify.config import load_routing, parse_duration, parse_routing
from rules.notify.errors import RoutingFileError


def problems(text: str) -> list[str]:
    with pytest.raises(RoutingFileError) as caught:
        parse_routing(text, "routes.yaml")
    return caught.value.problems


def test_the_packaged_example_is_valid_and_pages_patrols_for_critical_and_major() -> None:
    config = load_routing()
    route = config.routes[0]
    assert route.match.severity == ["critical", "major"]
    assert config.receiver(route.receivers[0]).channel == "mqtt"
    assert [s.receivers for s in route.escalate] == [["shift-supervisor"], ["property-manager"]]


def test_errors_name_the_line() -> None:
    text = """receivers:
  - name: patrol
    mqtt: {}
routes:
  - receivers: [patrol]
    repeat_every: soon
  - receivers: [patrol]
    escalate:
      - after: 5m
        receivers: [supervisor]
"""
    found = problems(text)
    assert any(p.startswith("line 6: routes.0.repeat_every:") and "not a duration" in p for p in found), found
    assert "line 10: routes.1.escalate.0.receivers: unknown receiver 'supervisor'" in found, found


def test_a_misspelt_key_is_refused_on_its_line() -> None:
    found = problems(
        "receivers:\n  - name: patrol\n    mqtt: {}\n    on_duty:\n      - {start: '08:00', ende: '20:00'}\n"
    )
    assert found == ["line 5: receivers.0.on_duty.0.ende: Extra inputs are not permitted"]


def test_a_receiver_needs_exactly_one_channel() -> None:
    found = problems("receivers:\n  - name: patrol\n")
    assert found == [
        "line 2: receivers.0: give exactly one channel: mqtt, webhook, cloudevents, apprise or ngsi_ld"
    ]


def test_an_ngsi_ld_broker_takes_entities_not_alerts() -> None:
    broker = "receivers:\n  - name: city-broker\n    ngsi_ld: {url: 'http://cb:1026', tenant: qingdao}\n"
    config = parse_routing(broker, "routes.yaml")
    spec = config.receiver("city-broker").ngsi_ld
    assert spec is not None and spec.upsert_url == "http://cb:1026/ngsi-ld/v1/entityOperations/upsert"
    assert config.receiver("city-broker").channel == "ngsi_ld"
    routed = problems(broker + "routes:\n  - {receivers: [city-broker]}\n")
    assert routed and "take entities, not alerts" in routed[0], routed
    assert problems(broker + "snapshot: {receivers: [city-broker]}\n")
    # Spots refer to their site and level: sending spots alone would leave dangling references.
    spots = "receivers:\n  - name: cb\n    ngsi_ld: {url: 'http://cb', types: [ParkingSpot]}\n"
    [found] = problems(spots)
    assert "ParkingSpot refers to OffStreetParking, ParkingGroup" in found, found
    both = "receivers:\n  - name: cb\n    ngsi_ld: {url: 'http://cb', token_env: A, token_file: /x}\n"
    assert any("at most one of token_env or token_file" in p for p in problems(both))
    inline = "receivers:\n  - name: cb\n    ngsi_ld: {url: 'http://cb', token: abc}\n"
    assert problems(inline), "a token never goes in the routing file"


def test_secrets_are_never_inline() -> None:
    found = problems("receivers:\n  - name: city\n    webhook: {url: 'http://x', secret: whsec_abc}\n")
    assert any("secret" in p and p.startswith("line 3") for p in found), found


def test_yaml_syntax_errors_have_a_line() -> None:
    found = problems("receivers:\n  - name: [patrol\n")
    assert found[0].startswith("line 3: not valid YAML") or found[0].startswith("line 2: not valid YAML")


def test_unquoted_clock_times_still_mean_the_time() -> None:
    config = parse_routing(
        "receivers:\n  - name: p\n    mqtt: {}\n    on_duty: [{start: 08:00, end: 20:00}]\n"
    )
    assert config.receivers[0].on_duty[0].start == dt.time(8, 0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25), (12, 12)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@given(st.text(max_size=30))
def test_any_text_is_a_duration_or_a_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert parse_duration(text).total_seconds() > 0


@given(st.text(max_size=200))
def test_any_file_loads_or_is_refused_with_lines(text: str) -> None:
    try:
        parse_routing(text)
    except RoutingFileError as error:
        assert error.problems and all(p.startswith("line ") for p in error.problems)
