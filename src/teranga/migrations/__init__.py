"""Alembic migrations: the only way a schema is made, on SQLite and PostgreSQL alike.

Each domain owns a branch (``branch_labels`` = the domain name) rooted at the platform
revision, so domains migrate independently; ``teranga db upgrade`` upgrades all heads.
"""
