"""Data residency, as the privacy domain exposes it.

The checks live in ``teranga.platform.residency`` because ``build_container`` runs them
and platform code must not import a domain; this module is the domain-facing name.
"""

from __future__ import annotations

from teranga.platform.residency import (
    StoreStatus,
    enforce_residency,
    require_store,
    residency_report,
    store_status,
)

__all__ = ["StoreStatus", "enforce_residency", "require_store", "residency_report", "store_status"]
