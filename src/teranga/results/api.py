"""What other domains may use from results: topic names and read-only views.

Live topics (all public, per-topic sequence numbers, snapshot + deltas, see service.py):
``public.results.unit.<RSC>``, ``public.results.sport.<sport>``, ``public.schedule``,
``public.medals``.
"""

from teranga.results.service import (
    MEDALS_TOPIC,
    SCHEDULE_TOPIC,
    medal_rows,
    schedule_view,
    sport_topic,
    unit_topic,
    unit_view,
)

__all__ = [
    "MEDALS_TOPIC",
    "SCHEDULE_TOPIC",
    "medal_rows",
    "schedule_view",
    "sport_topic",
    "unit_topic",
    "unit_view",
]
