"""louyu collector: MQTT telemetry in, validated readings out to InfluxDB."""
