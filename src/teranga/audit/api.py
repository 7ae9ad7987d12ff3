"""What other domains may use from audit: ``record`` in their own unit of work.

    from teranga.audit import api as audit
    audit.record(uow, action="ticketing.order.refunded", actor_id=p.user_id,
                 target_type="order", target_id=str(order.id), details={"amount_xof": 5000})

Details must carry no personal data in clear (ids, codes, amounts, blind indexes only).
Entries get their ``seq`` when the integrator adds them to the tenant's Merkle tree, after
commit (``integrate_tenant`` runs a pass at once).
"""

from teranga.audit.domain import BadEntry, TreeHead
from teranga.audit.integrator import integrate, integrate_tenant
from teranga.audit.service import EntryInfo, entries, head, public_key, record, verify

__all__ = [
    "BadEntry",
    "EntryInfo",
    "TreeHead",
    "entries",
    "head",
    "integrate",
    "integrate_tenant",
    "public_key",
    "record",
    "verify",
]
