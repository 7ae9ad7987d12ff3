"""Tenants: who owns each record, and where their data may live."""
