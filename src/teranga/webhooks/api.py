"""What other domains may use from webhooks: the public event catalogue and the verifier.

Domains do not call webhooks: they publish events with ``uow.publish`` and the webhook
worker picks the committed ones from the outbox. A new public event type is one entry in
``teranga.webhooks.domain.CATALOGUE`` (with the fields it may carry).
"""

from teranga.webhooks.domain import CATALOGUE, EVENT_TYPES, EventType, project, sign, verify

__all__ = ["CATALOGUE", "EVENT_TYPES", "EventType", "project", "sign", "verify"]
