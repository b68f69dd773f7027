"""Publish the alert events of this process's own acks and resolves on its MQTT connection."""

from __future__ import annotations

from api.mqtt_feed import MqttFeed
from rules.publisher import MqttEventPublisher
from rules.records import EventRecord


class FeedPublisher:
    """An EventPublisher over the API's MqttFeed, which exists only while the app runs. Without a
    feed the event is stored and streamed all the same; only the MQTT copy is skipped."""

    def __init__(self) -> None:
        self.feed: MqttFeed | None = None  # set by the app's lifespan while the feed runs

    def publish(self, event: EventRecord) -> None:
        feed = self.feed
        if feed is not None:
            MqttEventPublisher(feed.client).publish(event)
