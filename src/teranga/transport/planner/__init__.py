"""Journey planning: pure numpy, no database or web imports."""

from teranga.transport.planner.build import timetable_from_feeds
from teranga.transport.planner.raptor import Journey, Leg, search
from teranga.transport.planner.timetable import DayNetwork, Timetable, build_day

__all__ = [
    "DayNetwork",
    "Journey",
    "Leg",
    "Timetable",
    "build_day",
    "search",
    "timetable_from_feeds",
]
