"""One schema upgrade at a time, across processes.

Every gunicorn worker builds the app, and the app brings the store's schema up to date as it
starts (``PORTAL_STORE_AUTO_UPGRADE``). On a fresh store the workers would all run the same
migrations at once, and all but one fail ("table ... already exists"), which stops gunicorn. So the
upgrade runs under a lock the database's users share: an advisory lock in PostgreSQL, an exclusive
``flock`` on a file beside a SQLite database. The second worker waits, then finds nothing to do.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

#: pg_advisory_lock key: any fixed 64-bit number; this one is "shiori" in ASCII.
POSTGRES_LOCK_KEY = 0x7368696F7269


@contextlib.contextmanager
def one_upgrade_at_a_time(engine: Engine) -> Iterator[None]:
    """Hold the store's upgrade lock while the block runs (no lock for an in-memory SQLite database,
    which no other process can see, nor for a database kind that has none of these)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        with open(Path(url.database).with_name(Path(url.database).name + ".upgrade-lock"), "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
            yield
    elif url.get_backend_name() == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": POSTGRES_LOCK_KEY})
    else:
        yield
