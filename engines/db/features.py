"""What the database can do, asked by the callers that must choose how to work.

The product runs on PostgreSQL and on SQLite. Code outside this package asks
these questions instead of reading `connection.vendor` itself.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections


def is_postgresql(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the database is PostgreSQL (COPY, arrays, server-side binding): for this package's own paths."""
    return connections[using].vendor == "postgresql"


def skips_locked_rows(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether `select_for_update(skip_locked=True)` works: row locks that a concurrent claimer skips
    (PostgreSQL). Without them (SQLite) a claim is a conditional UPDATE that only one writer wins."""
    return connections[using].features.has_select_for_update_skip_locked


def has_concurrent_writers(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether several connections may write at once (PostgreSQL). SQLite has one writer at a time: work
    handed to a second connection would wait on, or not see, what the first one holds."""
    return is_postgresql(using)


def can_write_alongside(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether work may be handed to other connections now: several may write at once, and the caller is in
    no transaction whose uncommitted rows they would not see."""
    return has_concurrent_writers(using) and not connections[using].in_atomic_block
