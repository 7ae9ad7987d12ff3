"""What other domains may use from audit: ``record`` in their own unit of work.

    from teranga.audit import api as audit
    audit.record(uow, action="ticketing.order.refunded", actor_id=p.user_id,
                 target_type="order", target_id=str(order.id), details={"amount_xof": 5000})

Details must carry no personal data in clear (ids, codes, amounts, blind indexes only).
"""

from teranga.audit.domain import BadEntry
from teranga.audit.service import EntryInfo, entries, head, record, verify

__all__ = ["BadEntry", "EntryInfo", "entries", "head", "record", "verify"]
