"""Rules engine and alert lifecycle: rules file, conditions, engine, alert store, silences, escalation.

Imports readings from `collector/`; nothing in `collector/` imports this package.
"""
