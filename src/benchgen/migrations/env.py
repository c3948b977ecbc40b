"""Alembic environment: migrate the connection that :func:`benchgen.db.upgrade` hands over.

Run programmatically only; there is no ``alembic.ini``. With a ``sqlalchemy.url`` main
option instead of a connection (the ``alembic`` command line), that URL is used.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from benchgen.db import Base, make_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Entry point Alembic calls when this file is loaded."""
    if context.is_offline_mode():
        raise RuntimeError("benchgen migrations run online only (benchgen db upgrade)")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url to migrate")
    with make_engine(url).begin() as owned:
        _run(owned)


main()
