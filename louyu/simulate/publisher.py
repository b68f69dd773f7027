"""The `Simulator`: the threads that publish the simulated area (or a `--rate` load).

Threads (all non-daemon, all joined by `stop()`): `louyu-simulate-mqtt` (paho's network
loop, see `connection.py`) and `louyu-simulate-traffic` (the day, or the `--rate` load).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Final

from collector.area_clock import AreaClock, wall_ms
from collector.broker import BrokerTarget
from collector.registry import Registry
from louyu.simulate.clock import AreaTime, SimClock, parse_duration
from louyu.simulate.connection import DEFAULT_WINDOW, MqttPublisher
from louyu.simulate.model import AreaModel, MixedTraffic
from louyu.simulate.progress import Stats
from louyu.simulate.scenarios import Scenario, build_scenario, parse_scenario_spec
from louyu.simulate.traffic import Traffic

__all__ = ["DEFAULT_WINDOW", "MqttPublisher", "Simulator"]

log = logging.getLogger("louyu.simulate")

TICK_S: Final = 0.2


def _scenarios(
    items: Sequence[str | Scenario], registry: Registry, default_at_s: float, scale: float
) -> list[Scenario]:
    scenarios: list[Scenario] = []
    for item in items:
        if isinstance(item, Scenario):
            scenarios.append(item)
            continue
        name, at = parse_scenario_spec(item)
        at_s = parse_duration(at, "scenario offset") if at else default_at_s
        scenarios.append(build_scenario(name, registry, at_s, scale))
    return scenarios


class Simulator:
    """Publishes the simulated Darong area (or a `rate` load) until stopped, or until done.

    Done means: `duration_s` of real time has passed, or `count` telemetry messages were sent
    (availability messages are not counted). `done` is set then; `stop()` must still be called.
    """

    def __init__(
        self,
        broker: BrokerTarget | None = None,
        registry: Registry | None = None,
        speed: float = 1.0,
        scenarios: Sequence[str | Scenario] = (),
        scenario_at_s: float = 0.0,
        scenario_scale: float = 1.0,
        start_ms: int | None = None,
        seed: int = 0,
        qos: int = 1,
        rate: float | None = None,
        duration_s: float | None = None,
        count: int | None = None,
        client_id: str = "louyu-simulate",
        window: int = DEFAULT_WINDOW,
        availability: bool = True,
        stats: Stats | None = None,
        area_clock: AreaClock | None = None,
    ) -> None:
        """`area_clock`: follow the area's clock (collector/area_clock.py: the demo's simulated
        time, shared with the board) instead of `start_ms` and `speed`."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.registry = registry if registry is not None else Registry.load(None)
        self.speed, self.rate, self.duration_s, self.count = speed, rate, duration_s, count
        self.start_ms, self.seed, self.availability = start_ms, seed, availability
        self.area_clock = area_clock
        if area_clock is not None:
            self.speed = area_clock.speed
        self.scenarios = _scenarios(scenarios, self.registry, scenario_at_s, scenario_scale)
        self.stats = stats or Stats()
        self.publisher = MqttPublisher(
            broker or BrokerTarget("127.0.0.1", 1883), client_id, qos, window, self.stats
        )
        self.done = threading.Event()
        self.data_sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        self.stats.started = time.monotonic()
        self.publisher.start()
        target = self._run_rate if self.rate is not None else self._run_day
        self._thread = threading.Thread(target=self._guarded, args=(target,), name="louyu-simulate-traffic")
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done (duration or count reached); False on timeout."""
        return self.done.wait(timeout)

    def stop(self, drain_s: float = 5.0) -> None:
        """End the run: stop the traffic, wait up to `drain_s` for acknowledgements, disconnect."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.publisher.stop(drain_s)
        self.done.set()

    # -- traffic thread -----------------------------------------------------------------------

    def _guarded(self, target: Any) -> None:
        try:
            target()
        except Exception as error:  # a bug must not leave a silent, idle simulator behind
            log.exception("simulator stopped by an error")
            self.error = error
        finally:
            self.done.set()

    def _should_end(self) -> bool:
        return self._stop.is_set() or (
            self.duration_s is not None and time.monotonic() - self.stats.started >= self.duration_s
        )

    def _connect(self) -> bool:
        """Wait for the first connection, so the broker's Receive Maximum is known before sending."""
        while not self.publisher.wait_connected(0.2):
            if self._should_end():
                return False
        return True

    def _send(self, topic: str, payload: bytes, retain: bool = False, counted: bool = True) -> bool:
        """Publish; False when the run must end (stopped, duration over, count reached)."""
        if counted and self.count is not None and self.data_sent >= self.count:
            return False
        if not self.publisher.publish(topic, payload, retain, self._should_end):
            return not self._should_end()
        if counted:
            self.data_sent += 1
        return True

    def _limits_reached(self) -> bool:
        return self._should_end() or (self.count is not None and self.data_sent >= self.count)

    def _run_day(self) -> None:
        if not self._connect():
            return
        clock: SimClock | AreaTime = (
            AreaTime(self.area_clock)
            if self.area_clock is not None
            else SimClock.starting_now(self.start_ms, self.speed)
        )
        traffic = Traffic(
            AreaModel(self.registry, self.seed),
            self.speed,
            self.scenarios,
            self.availability,
            # The area's clock maps readings' real timestamps into its day: they must stay real.
            real_ts=self.area_clock is not None,
        )
        tz = traffic.model.parking.tz
        while not self._stop.is_set():
            elapsed = clock.elapsed_s()
            sim_ms = clock.sim_ms(elapsed)
            for message in traffic.step(sim_ms, wall_ms(), elapsed):
                if self._stop.is_set():
                    return
                if not self._send(message.topic, message.payload, message.retain, not message.availability):
                    break
            self.stats.sim_time = dt.datetime.fromtimestamp(sim_ms / 1000, tz).strftime(
                "%a %Y-%m-%d %H:%M:%S"
            )
            self.stats.scenarios = tuple(traffic.active)
            if self._limits_reached():
                return
            self._stop.wait(max(0.0, TICK_S - (clock.elapsed_s() - elapsed)))

    def _run_rate(self) -> None:
        assert self.rate is not None
        if not self._connect():
            return
        model_start = self.start_ms if self.start_ms is not None else wall_ms()
        mix = MixedTraffic(self.registry, self.seed, model_start)
        if self.availability:
            for device in mix.model.devices():
                topic = f"louyu/{device.building}/{device.kind}/{device.device}/availability"
                self._send(topic, b"online", retain=True, counted=False)
        started = time.monotonic()
        last_ts: dict[tuple[str, int], int] = {}
        sent = 0
        while not self._limits_reached():
            kind, index = mix.next_kind_device()
            # Readings of one device never share a millisecond (a store would keep only one).
            ts = max(wall_ms(), last_ts.get((kind, index), 0) + 1)
            last_ts[(kind, index)] = ts
            topic, payload = mix.message(ts, kind, index)
            if not self._send(topic, payload):
                break
            sent += 1
            ahead = started + sent / self.rate - time.monotonic()
            if ahead > 0.002:
                self._stop.wait(ahead)
