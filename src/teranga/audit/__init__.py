"""Tamper-evident audit log: per-tenant RFC 6962 Merkle trees with signed tree heads.

- Entries are appended in the caller's transaction (``api.record(uow, ...)``) without any
  lock: the entry exists if and only if the change committed, and writers never queue.
- The integrator (``integrator``), after commit, gives entries gapless per-tenant seqs as
  leaves (leaf = SHA-256(0x00 || canonical entry), node = SHA-256(0x01 || l || r)) and
  signs a tree head (Ed25519, key sealed under the KMS) per pass; one pass per tenant at
  a time (PostgreSQL advisory lock).
- On PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE of entries, leaves and heads
  for every role, the application's included; only the table owner can disable them,
  and ``verify`` still names the first entry that was edited, deleted, reordered or cut.
- Auditors get inclusion and consistency proofs (``merkle``, web routes). Whoever holds
  both the database and the signing key can rebuild a consistent log; copying ``head()``
  to an outside witness regularly closes that gap (``verify(witness=...)``).
"""
