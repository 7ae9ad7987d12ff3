"""A gate scanner that keeps working offline: the reference model of the browser scanner.

It holds a bundle (rules, revocations, entries known so far), decides locally with the same
rules as the server, queues its scans and syncs them when the network returns. Scanners of
one gate cluster exchange their entries whenever they can reach each other, which narrows
the window in which one ticket can be admitted twice. Used by the partition tests and the
offline-verification benchmark; the JavaScript scanner (static/access/scanner.js) mirrors it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from teranga.access.domain import (
    CheckinRule,
    Credential,
    Decision,
    Direction,
    Presence,
    Reason,
    decide,
)

Verifier = Callable[[str], Credential | None]


def rules_from_bundle(bundle: dict[str, Any]) -> list[CheckinRule]:
    rules = []
    for item in bundle["lists"]:
        rules.append(
            CheckinRule(
                list_id=uuid.UUID(item["id"]),
                session_ids=frozenset(uuid.UUID(s) for s in item["session_ids"]),
                zone_nos=frozenset(item["zone_nos"]),
                category_nos=frozenset(item["category_nos"]),
                badge_zones=frozenset(item["badge_zones"]),
                accreditation_roles=frozenset(item["accreditation_roles"]),
                opens_at=dt.datetime.fromisoformat(item["opens_at"]) if item["opens_at"] else None,
                closes_at=(
                    dt.datetime.fromisoformat(item["closes_at"]) if item["closes_at"] else None
                ),
                allow_reentry=item["allow_reentry"],
            )
        )
    return rules


@dataclass(frozen=True, slots=True)
class QueuedScan:
    nonce: str
    list_id: uuid.UUID | None
    credential_id: uuid.UUID | None
    at: dt.datetime
    direction: Direction
    accepted: bool
    reason: str


@dataclass
class OfflineScanner:
    scanner_id: str
    gate_id: uuid.UUID
    gate_name: str
    verify: Verifier
    rules: list[CheckinRule] = field(default_factory=list)
    revoked: set[uuid.UUID] = field(default_factory=set)
    presence: dict[tuple[uuid.UUID, uuid.UUID], Presence] = field(default_factory=dict)
    queue: list[QueuedScan] = field(default_factory=list)
    cursor: str | None = None
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- state from the server or peers --------------------------------------------------
    def load_bundle(self, bundle: dict[str, Any]) -> None:
        self.rules = rules_from_bundle(bundle)
        self.revoked |= {uuid.UUID(r) for r in bundle["revoked"]}
        for e in bundle["entries"]:
            self._learn(
                uuid.UUID(e["list_id"]),
                uuid.UUID(e["credential_id"]),
                e["gate"],
                dt.datetime.fromisoformat(e["at"]),
                Direction(e["direction"]),
            )
        self.cursor = bundle["cursor"]

    def _learn(
        self, list_id: uuid.UUID, cred: uuid.UUID, gate: str, at: dt.datetime, d: Direction
    ) -> None:
        key = (list_id, cred)
        p = self.presence.get(key)
        if d is Direction.OUT:
            if p is not None and p.at <= at:
                p.inside = False
            return
        if p is None:
            self.presence[key] = Presence(True, gate, at)
        elif not p.inside or at < p.at:
            p.inside = True
            if at < p.at:
                p.gate, p.at = gate, at

    # -- scanning -------------------------------------------------------------------------
    def scan(self, text: str, now: dt.datetime, direction: Direction = Direction.IN) -> Decision:
        cred = self.verify(text)
        nonce = f"{self.scanner_id}-{next(self._seq)}"
        if cred is None:
            self.queue.append(QueuedScan(nonce, None, None, now, direction, False, "unknown"))
            return Decision(False, Reason.UNKNOWN)
        decision = Decision(
            False, Reason.WRONG_SESSION if cred.kind == "ticket" else Reason.WRONG_ZONE
        )
        chosen: CheckinRule | None = None
        for rule in self.rules:
            d = decide(
                cred,
                rule,
                now,
                revoked=cred.credential_id in self.revoked,
                presence=self.presence.get((rule.list_id, cred.credential_id)),
                direction=direction,
            )
            if d.accepted or d.reason not in (Reason.WRONG_SESSION, Reason.WRONG_ZONE):
                decision, chosen = d, rule
                break
        if decision.accepted and chosen is not None:
            self._learn(chosen.list_id, cred.credential_id, self.gate_name, now, direction)
        self.queue.append(
            QueuedScan(
                nonce,
                chosen.list_id if chosen else None,
                cred.credential_id,
                now,
                direction,
                decision.accepted,
                decision.reason.value,
            )
        )
        return decision

    def take_queue(self) -> list[QueuedScan]:
        out, self.queue = self.queue, []
        return out

    def share_with(self, peer: OfflineScanner) -> None:
        """Gossip: tell a reachable peer of the same cluster every entry this scanner knows."""
        for (list_id, cred), p in self.presence.items():
            peer._learn(list_id, cred, p.gate, p.at, Direction.IN)
            if not p.inside:
                peer._learn(list_id, cred, p.gate, p.at, Direction.OUT)
