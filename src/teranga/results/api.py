"""What other domains may use from results: topic names and read-only views.

Live topics (all public, per-topic sequence numbers, snapshot + deltas, see service.py),
namespaced by the tenant's slug: ``public.<slug>.results.unit.<RSC>``,
``public.<slug>.results.sport.<sport>``, ``public.<slug>.schedule``,
``public.<slug>.medals``.
"""

from teranga.results.service import (
    medal_rows,
    medals_topic,
    schedule_topic,
    schedule_view,
    sport_topic,
    tenant_slug,
    unit_topic,
    unit_view,
)

__all__ = [
    "medal_rows",
    "medals_topic",
    "schedule_topic",
    "schedule_view",
    "sport_topic",
    "tenant_slug",
    "unit_topic",
    "unit_view",
]
