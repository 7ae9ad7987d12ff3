"""GTFS import, validation and export."""

from teranga.transport.gtfs.model import Feed, Stop, StopTimes, format_time, parse_time
from teranga.transport.gtfs.notices import Notice, ValidationReport
from teranga.transport.gtfs.reader import FeedOverrides, read_feed
from teranga.transport.gtfs.writer import export_zip, merged_files

__all__ = [
    "Feed",
    "FeedOverrides",
    "Notice",
    "Stop",
    "StopTimes",
    "ValidationReport",
    "export_zip",
    "format_time",
    "merged_files",
    "parse_time",
    "read_feed",
]
