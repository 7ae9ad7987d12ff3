"""Tamper-evident audit log: a per-tenant hash chain written with each change it records.

- Entries are appended in the caller's transaction (``api.record(uow, ...)``): the entry
  exists if and only if the change committed.
- Each tenant's entries form a chain: seq 1, 2, 3... with no gaps; each entry's hash covers
  the previous hash and the entry's canonical JSON (see ``domain``). A per-tenant head row
  (last seq and hash), locked FOR UPDATE, serialises appends and detects a cut tail.
- On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE of entries for every role,
  the application's included; only the table owner can disable it, and ``verify`` still
  names the first entry that was edited, deleted, reordered or cut.
- Limits: whoever can rewrite both the entries and the head row can rebuild a consistent
  chain; copying ``head()`` (seq, hash) to an outside witness regularly closes that gap.
"""
