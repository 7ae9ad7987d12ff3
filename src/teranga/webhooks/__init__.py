"""Open platform webhooks: tenants' endpoints receive signed public events."""
