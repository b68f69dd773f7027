"""Patrol handsets over MQTT: QoS 1 on `louyu/notify/{receiver}`; delivered once the broker acks."""

from __future__ import annotations

import datetime as dt

import paho.mqtt.client as mqtt

from rules.notify.channels import Outgoing
from rules.notify.errors import DeliveryError


class MqttChannel:
    def __init__(self, client: mqtt.Client, topic: str, timeout_s: float) -> None:
        self.client = client
        self.topic = topic
        self.timeout_s = timeout_s

    def send(self, message: Outgoing, now: dt.datetime) -> None:
        if not self.client.is_connected():
            raise DeliveryError("not connected to the broker", retryable=True)
        info = self.client.publish(self.topic, message.payload.encode("utf-8"), qos=1, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise DeliveryError(f"publish failed: {mqtt.error_string(info.rc)}", retryable=True)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as error:  # raised by paho when the connection dropped
            raise DeliveryError(f"publish failed: {error}", retryable=True) from error
        if not info.is_published():
            raise DeliveryError(f"no PUBACK within {self.timeout_s:.0f} s", retryable=True)

    def close(self) -> None:
        """The client belongs to the service."""
