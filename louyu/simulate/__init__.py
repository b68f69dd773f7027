"""`louyu simulate`: realistic traffic for the Darong area (or any registry).

- `model.py`: the area as pure functions of (simulated time, seed), built from `parking.py`,
  `canteen.py` and `aed.py`; payload encoding; `iter_mixed_messages` for benchmarks;
- `scenarios.py`: named events that drive the alert rules;
- `traffic.py`: what to publish at each moment (changes, heartbeats, availability);
- `connection.py`: the flow-controlled MQTT client; `publisher.py`: the `Simulator` threads;
- `progress.py`: counters and their live display; `clock.py`: simulated time.
"""
