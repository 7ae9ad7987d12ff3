"""What other domains may use from tenancy."""

from teranga.tenancy.service import TenantInfo, create_tenant, get, get_by_slug, list_tenants

__all__ = ["TenantInfo", "create_tenant", "get", "get_by_slug", "list_tenants"]
