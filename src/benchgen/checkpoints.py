"""LangGraph checkpointers for the agent author: SQLite (the default) or PostgreSQL.

``open_checkpointer(target)`` takes a SQLite file path (``DIR/checkpoints.sqlite``), a
``sqlite:///`` URL, or a ``postgresql://`` URL (``postgresql+psycopg://`` is accepted,
the same URLs as ``--db``). :func:`checkpoint_target` says which one an agent session uses:
``benchgen generate --author agent --db postgresql://...`` keeps the checkpoints in that
server (the same database as the metadata), any other run in ``DIR/checkpoints.sqlite``
beside the dataset.

SQLite runs in WAL mode with a generous busy timeout, so several sessions (processes) can
share one dataset's file. PostgreSQL uses a connection pool that checks connections before
handing them out, so a database restart between two graph nodes is survived.
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
CHECKPOINT_FILE = "checkpoints.sqlite"
"""The SQLite checkpoint file in a dataset directory (or a remote dataset's local directory)."""


def is_postgres(target: str | os.PathLike[str]) -> bool:
    """True for a PostgreSQL URL."""
    return isinstance(target, str) and target.startswith(POSTGRES_PREFIXES)


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style PostgreSQL URL as libpq understands it (no ``+driver``)."""
    return "postgresql://" + url.split("://", 1)[1]


def checkpoint_target(dataset_dir: Path, db_url: str | None = None) -> str | Path:
    """Where an agent session's checkpoints go: the PostgreSQL server of ``db_url`` (``--db``),
    otherwise ``dataset_dir/checkpoints.sqlite``."""
    if db_url is not None and is_postgres(db_url):
        return db_url
    return dataset_dir.resolve() / CHECKPOINT_FILE


def _sqlite_path(target: str | os.PathLike[str]) -> Path:
    text = os.fspath(target)
    return Path(text.removeprefix("sqlite:///")) if text.startswith("sqlite:///") else Path(text)


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

    path = _sqlite_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(str(path), check_same_thread=False, timeout=60.0)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        sqlite_saver = SqliteSaver(conn)
        sqlite_saver.setup()
        yield sqlite_saver


def has_thread(target: str | os.PathLike[str], thread_id: str) -> bool:
    """Whether ``target`` holds a checkpoint of ``thread_id`` (a missing SQLite file is not created)."""
    if not is_postgres(target) and not _sqlite_path(target).is_file():
        return False
    with open_checkpointer(target, max_connections=1) as saver:
        return saver.get_tuple({"configurable": {"thread_id": thread_id}}) is not None
