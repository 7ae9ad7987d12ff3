"""Fares of journey legs from GTFS fares v1 (fare_attributes.txt + fare_rules.txt). Pure logic.

A leg takes the cheapest fare whose rules match its route, boarding zone, alighting zone and
the zones it passes (``contains_id``: every zone passed must be listed). A fare without any
rule applies to every leg of its agency. A leg on the same fare as the previous paid leg rides
free while that ticket has transfers left and is within ``transfer_duration``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


@dataclass(frozen=True)
class Fare:
    fare_id: str
    price: int  # whole currency units (XOF has no minor unit)
    currency: str
    transfers: int | None  # None: unlimited
    transfer_duration: int | None  # seconds; None: no limit
    agency_id: str = ""


@dataclass(frozen=True)
class FareRule:
    fare_id: str
    route_id: str = ""
    origin_id: str = ""
    destination_id: str = ""
    contains_id: str = ""


@dataclass
class FareTable:
    fares: dict[str, Fare] = field(default_factory=dict)
    rules: dict[str, list[FareRule]] = field(default_factory=dict)


@dataclass(frozen=True)
class LegFareInput:
    """What a transit leg needs to be priced; ids are the feed's own (not prefixed)."""

    feed_id: str
    route_id: str
    agency_id: str
    origin_zone: str
    destination_zone: str
    zones: frozenset[str]
    departure: int  # epoch seconds


@dataclass(frozen=True)
class LegFare:
    fare_id: str
    price: int
    currency: str
    transfer: bool  # covered by the ticket bought on an earlier leg


def _int_or_none(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def parse_fares(
    attributes: Sequence[Mapping[str, str]], rules: Sequence[Mapping[str, str]]
) -> FareTable:
    """Rows as read from the feed; rows with an unreadable price or currency are skipped."""
    table = FareTable()
    for row in attributes:
        fid = (row.get("fare_id") or "").strip()
        currency = (row.get("currency_type") or "").strip().upper()
        try:
            price = Decimal((row.get("price") or "").strip())
        except InvalidOperation:
            continue
        if not fid or not currency or not price.is_finite() or price < 0:
            continue
        table.fares[fid] = Fare(
            fare_id=fid,
            price=int(price.quantize(Decimal(1), ROUND_HALF_UP)),
            currency=currency,
            transfers=_int_or_none(row.get("transfers") or ""),
            transfer_duration=_int_or_none(row.get("transfer_duration") or ""),
            agency_id=(row.get("agency_id") or "").strip(),
        )
    for row in rules:
        fid = (row.get("fare_id") or "").strip()
        if fid not in table.fares:
            continue
        table.rules.setdefault(fid, []).append(
            FareRule(
                fid,
                (row.get("route_id") or "").strip(),
                (row.get("origin_id") or "").strip(),
                (row.get("destination_id") or "").strip(),
                (row.get("contains_id") or "").strip(),
            )
        )
    return table


def _applies(table: FareTable, fare: Fare, leg: LegFareInput) -> bool:
    if fare.agency_id and leg.agency_id and fare.agency_id != leg.agency_id:
        return False
    rules = table.rules.get(fare.fare_id)
    if not rules:
        return True
    contains = {r.contains_id for r in rules if r.contains_id}
    if contains and not leg.zones <= contains:
        return False
    return any(
        (not r.route_id or r.route_id == leg.route_id)
        and (not r.origin_id or r.origin_id == leg.origin_zone)
        and (not r.destination_id or r.destination_id == leg.destination_zone)
        for r in rules
    )


def price_legs(
    tables: Mapping[str, FareTable], legs: Sequence[LegFareInput]
) -> list[LegFare | None]:
    """The fare of each transit leg in order (None when the feed prices none of them)."""
    out: list[LegFare | None] = []
    ticket: tuple[str, Fare, int] | None = None  # (feed, fare, paid at)
    used = 0
    for leg in legs:
        table = tables.get(leg.feed_id)
        matching = [f for f in table.fares.values() if _applies(table, f, leg)] if table else []
        if not matching:
            out.append(None)
            ticket = None
            continue
        if ticket is not None:
            feed, fare, paid_at = ticket
            if (
                feed == leg.feed_id
                and fare in matching
                and (fare.transfers is None or used < fare.transfers)
                and (fare.transfer_duration is None
                     or leg.departure - paid_at <= fare.transfer_duration)
            ):  # fmt: skip
                used += 1
                out.append(LegFare(fare.fare_id, 0, fare.currency, True))
                continue
        best = min(matching, key=lambda f: (f.price, f.fare_id))
        ticket, used = (leg.feed_id, best, leg.departure), 0
        out.append(LegFare(best.fare_id, best.price, best.currency, False))
    return out


def total(fares: Sequence[LegFare | None]) -> tuple[int, str] | None:
    """Sum of the legs' fares; None when a leg is unpriced, currencies differ, or no leg."""
    if not fares or any(f is None for f in fares):
        return None
    currencies = {f.currency for f in fares if f is not None}
    if len(currencies) != 1:
        return None
    return sum(f.price for f in fares if f is not None), currencies.pop()
