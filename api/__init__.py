"""The operator HTTP API (contract section 4): alerts, devices, history, live events, health."""
