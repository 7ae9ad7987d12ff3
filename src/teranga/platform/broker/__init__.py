"""Publish/subscribe with per-topic sequence numbers and replay.

``memory://`` is the in-process broker of the embedded mode; ``nats://host:port`` uses NATS
JetStream. Both pass the same contract tests (tests/integration/test_broker_contract.py).
"""

from teranga.platform.broker.base import (
    Broker,
    BrokerError,
    Message,
    ReplayGap,
    check_topic,
    make_broker,
)

__all__ = ["Broker", "BrokerError", "Message", "ReplayGap", "check_topic", "make_broker"]
