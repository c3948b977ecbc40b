"""LangGraph checkpointers for the agent author: SQLite (the default) or PostgreSQL.

``open_checkpointer(target)`` takes a SQLite file path (``DIR/checkpoints.sqlite``), a
``sqlite:///`` URL, or a ``postgresql://`` URL (``postgresql+psycopg://`` is accepted,
the same URLs as ``--db``). PostgreSQL uses a connection pool that checks connections
before handing them out, so a database restart between two graph nodes is survived.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

POSTGRES_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_postgres(target: str | os.PathLike[str]) -> bool:
    """True for a PostgreSQL URL."""
    return isinstance(target, str) and target.startswith(POSTGRES_PREFIXES)


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style PostgreSQL URL as libpq understands it (no ``+driver``)."""
    return "postgresql://" + url.split("://", 1)[1]


@contextmanager
def open_checkpointer(
    target: str | os.PathLike[str], max_connections: int = 4
) -> Iterator[BaseCheckpointSaver[Any]]:
    """A checkpointer on ``target`` with its tables created, closed on exit."""
    if is_postgres(target):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        # The settings PostgresSaver needs on every connection (see its from_conn_string).
        kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        with ConnectionPool(
            libpq_url(str(target)),
            min_size=1,
            max_size=max_connections,
            kwargs=kwargs,
            check=ConnectionPool.check_connection,
            open=True,
        ) as pool:
            saver = PostgresSaver(pool)  # type: ignore[arg-type]
            saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    text = os.fspath(target)
    path = Path(text.removeprefix("sqlite:///")) if text.startswith("sqlite:///") else Path(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(str(path), check_same_thread=False)) as conn:
        sqlite_saver = SqliteSaver(conn)
        sqlite_saver.setup()
        yield sqlite_saver
