"""The soak: the whole system at district load for a set time while faults strike in turn.

`python -m bench.soak --minutes 30` (`make soak`). Separate processes as in the compose layout
(`louyu collector`, `rules`, `notifier`, `api`) on real mosquitto and influxd, a district registry
of ~100,000 devices, a logged load of readings at the planning rate with reconnect bursts, scripted
AED incidents throughout, and at the end a verification of what was stored, raised, delivered and
resolved, with latencies, memory and a plot. See docs/soak.md.
"""
