"""louyu: the wiring on top of collector, rules and api (settings, CLI, process start-up)."""

__version__ = "0.1.0"
