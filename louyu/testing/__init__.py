"""Helpers to run real services (mosquitto, influxd, victoria-metrics, postgres) on loopback.

Used by the test suite, the benchmarks and `louyu up --demo`; not imported by the services.
"""
