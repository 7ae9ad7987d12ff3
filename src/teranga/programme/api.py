"""What other domains may use from the programme (read-only).

    from teranga.programme import api as programme
    with container.uow(tenant_id) as uow:
        session = programme.get_session(uow, session_id)   # SessionInfo, NotFound if absent
        venues = programme.list_venues(uow)

Times are tz-aware UTC (= Africa/Dakar local time). ``SessionInfo.illustrative`` marks a
demo assumption that pages must show as such.
"""

from teranga.programme.domain import (
    GAMES_END,
    GAMES_START,
    SessionInfo,
    SportInfo,
    VenueInfo,
    games_days,
)
from teranga.programme.service import (
    day_counts,
    get_session,
    get_sessions,
    get_sport,
    get_venue,
    list_sessions,
    list_sports,
    list_venues,
)

__all__ = [
    "GAMES_END",
    "GAMES_START",
    "SessionInfo",
    "SportInfo",
    "VenueInfo",
    "day_counts",
    "games_days",
    "get_session",
    "get_sessions",
    "get_sport",
    "get_venue",
    "list_sessions",
    "list_sports",
    "list_venues",
]
