"""Errors of the simulator.

SimulateError
├── UnknownScenarioError      a scenario name that is not one of SCENARIO_NAMES
└── BadTimeError              a --start, --scenario-at or --duration value that cannot be read
"""

from __future__ import annotations


class SimulateError(Exception):
    """Base class: a problem with what the simulator was asked to do."""


class UnknownScenarioError(SimulateError):
    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown scenario {name!r}; choose from {', '.join(known)}")


class BadTimeError(SimulateError):
    def __init__(self, what: str, value: str, expected: str) -> None:
        super().__init__(f"{what} {value!r} cannot be read; expected {expected}")
