"""Leg geometry: the part of a trip's shape between its boarding and alighting stops."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LatLon = tuple[float, float]


def cut_shape(shape: Sequence[LatLon], stops: Sequence[LatLon]) -> list[LatLon]:
    """Shape points from the one nearest the first stop to the one nearest the last.

    Stops are matched in order, each at or after the previous match, so a loop or an
    out-and-back shape is cut on the right pass. Empty when the shape cannot be used (fewer
    than two points or stops, or every stop snaps to the same point)."""
    if len(shape) < 2 or len(stops) < 2:
        return []
    pts = np.asarray(shape, dtype=np.float64)
    k = math.cos(math.radians(float(pts[:, 0].mean())))
    idx, cuts = 0, []
    for lat, lon in stops:
        rest = pts[idx:]
        d = (rest[:, 0] - lat) ** 2 + ((rest[:, 1] - lon) * k) ** 2
        idx += int(np.argmin(d))
        cuts.append(idx)
    if cuts[-1] <= cuts[0]:
        return []
    part = [(float(a), float(b)) for a, b in pts[cuts[0] : cuts[-1] + 1]]
    # Start and end exactly at the stops so the line meets the stop dots on the map.
    first, last = (
        (float(stops[0][0]), float(stops[0][1])),
        (
            float(stops[-1][0]),
            float(stops[-1][1]),
        ),
    )
    if part[0] != first:
        part.insert(0, first)
    if part[-1] != last:
        part.append(last)
    return part
