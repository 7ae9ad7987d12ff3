"""Shared kernel: storage, unit of work, broker, crypto. Imports no domain."""
