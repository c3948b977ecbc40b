"""Metadata database: generation sessions, benchmark assets and rejections, through SQLAlchemy.

SQLite in the dataset directory is the default (``sqlite:///DIR/benchgen.db``; for a
remote dataset, in its local work directory). Any SQLAlchemy URL works; PostgreSQL is
the supported server (``postgresql://user:pass@host/db`` is read as
``postgresql+psycopg://``, psycopg 3). One server database can hold many datasets: every
row carries its dataset's location.

The schema is managed by Alembic (migrations in ``benchgen/migrations/``); :func:`connect`
upgrades a database to the latest revision, and ``benchgen db upgrade`` does it alone.
Writes are retried with bounded backoff when the server is unreachable (a restart), so a
run survives a database restart; pooled connections are checked before use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from benchgen.retry import RetriesExhausted, RetryPolicy, call_with_retries

SESSION_STATUSES = ("planning", "executing", "validating", "accepted", "rejected")
MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE_REVISION = "0001"
"""The schema that ``create_all`` made before migrations existed; such databases are stamped with it."""
DB_RETRY_PREFIX = "BENCHGEN_DB_RETRY"

T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of benchgen's tables."""


class GenerationSession(Base):
    """One attempt to author one benchmark: a candidate from planning to its verdict."""

    __tablename__ = "generation_sessions"

    dataset: Mapped[str] = mapped_column(String(1024), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    theme: Mapped[str | None] = mapped_column(Text)
    tier: Mapped[str | None] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text)
    validation_logs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    usage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class BenchmarkAsset(Base):
    """An accepted benchmark and where its files live."""

    __tablename__ = "benchmark_assets"
    __table_args__ = (
        ForeignKeyConstraint(
            ["dataset", "session_id"],
            ["generation_sessions.dataset", "generation_sessions.id"],
            name="fk_benchmark_assets_session",
        ),
    )

    dataset: Mapped[str] = mapped_column(String(1024), primary_key=True)
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(String(16))
    mjcf_url: Mapped[str] = mapped_column(Text)
    script_url: Mapped[str] = mapped_column(Text)
    preview_url: Mapped[str] = mapped_column(Text)
    variants: Mapped[list[Any]] = mapped_column(JSON, default=list)
    difficulty: Mapped[float] = mapped_column(Float)
    content_hash: Mapped[str] = mapped_column(String(64))
    candidate_index: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RejectionRecord(Base):
    """A rejected candidate: the same facts as its ``rejection.json`` in the archive."""

    __tablename__ = "rejections"

    dataset: Mapped[str] = mapped_column(String(1024), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(40), index=True)
    message: Mapped[str] = mapped_column(Text)
    family: Mapped[str] = mapped_column(String(64))
    script_sha256: Mapped[str] = mapped_column(String(64))
    candidate: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    archive_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DatabaseUnavailable(RuntimeError):
    """The metadata database could not be reached, even after retries."""


def normalize_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver; others unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.resolve()}"


def retry_policy() -> RetryPolicy:
    """Retries of database work: 8 tries, 0.5 s doubling up to 8 s (about 40 s), overridable
    with ``BENCHGEN_DB_RETRY_ATTEMPTS`` / ``_BASE_DELAY_S`` / ``_MAX_DELAY_S``."""
    defaults = RetryPolicy(attempts=8, base_delay_s=0.5, max_delay_s=8.0)
    override = RetryPolicy.from_env(DB_RETRY_PREFIX)
    return defaults.model_copy(update=override.model_dump(exclude_unset=True))


def _transient(exc: BaseException) -> bool:
    """Lost or refused connections (a restarting server, a locked SQLite file) are transient."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def with_retries(action: Callable[[], T], what: str, on_retry: Callable[[str], None] | None = None) -> T:
    """Run one unit of database work, retried while the database is unreachable."""
    try:
        return call_with_retries(action, what, retry_policy(), _transient, on_retry)
    except RetriesExhausted as exc:
        raise DatabaseUnavailable(str(exc)) from exc


def make_engine(url: str) -> Engine:
    """An engine for ``url`` whose pooled connections are checked before use (so connections
    broken by a server restart are replaced instead of failing the next write)."""
    return create_engine(normalize_url(url), pool_pre_ping=True)


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the database to ``revision``; returns the revision it is at afterwards.

    A database created before migrations existed (tables but no ``alembic_version``) is
    first stamped with the baseline revision, then upgraded.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        _lock(connection)
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "generation_sessions" in tables and "alembic_version" not in tables:
            command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, revision)
        current = MigrationContext.configure(connection).get_current_revision()
    return current or ""


def _lock(connection: Connection) -> None:
    """Serialize concurrent migrations (several runs starting against one server)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(7461736)"))


def connect(url: str, on_retry: Callable[[str], None] | None = None) -> Engine:
    """Open the metadata database at ``url`` and upgrade its schema to the latest revision."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite" and engine.url.database:
        os.makedirs(Path(engine.url.database).parent, exist_ok=True)
    with_retries(lambda: upgrade(engine), "upgrading the metadata database", on_retry)
    return engine


def _upsert(engine: Engine, model: type[Base], key: tuple[str, ...], fields: dict[str, Any]) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(model, key)
        if row is None:
            session.add(model(**fields))
        else:
            for name, value in fields.items():
                setattr(row, name, value)


def record_session(engine: Engine, on_retry: Callable[[str], None] | None = None, **fields: Any) -> None:
    """Insert or update a generation session by (dataset, id)."""
    key = (fields["dataset"], fields["id"])
    with_retries(lambda: _upsert(engine, GenerationSession, key, fields), "recording a session", on_retry)


def record_asset(engine: Engine, on_retry: Callable[[str], None] | None = None, **fields: Any) -> None:
    """Insert or replace an accepted benchmark's record."""
    key = (fields["dataset"], fields["id"])
    with_retries(lambda: _upsert(engine, BenchmarkAsset, key, fields), "recording a benchmark", on_retry)


def record_rejection(engine: Engine, on_retry: Callable[[str], None] | None = None, **fields: Any) -> None:
    """Insert or replace a rejected candidate's record."""
    key = (fields["dataset"], fields["candidate_id"])
    with_retries(lambda: _upsert(engine, RejectionRecord, key, fields), "recording a rejection", on_retry)


def list_assets(engine: Engine, dataset: str | None = None) -> list[BenchmarkAsset]:
    """Benchmark records (of one dataset, if given), in candidate order."""
    query = select(BenchmarkAsset).order_by(BenchmarkAsset.dataset, BenchmarkAsset.candidate_index)
    if dataset is not None:
        query = query.where(BenchmarkAsset.dataset == dataset)
    with Session(engine) as session:
        return list(session.scalars(query))


def list_sessions(engine: Engine, dataset: str | None = None) -> list[GenerationSession]:
    """Session records (of one dataset, if given), by id."""
    query = select(GenerationSession).order_by(GenerationSession.dataset, GenerationSession.id)
    if dataset is not None:
        query = query.where(GenerationSession.dataset == dataset)
    with Session(engine) as session:
        return list(session.scalars(query))


def list_rejections(engine: Engine, dataset: str | None = None) -> list[RejectionRecord]:
    """Rejection records (of one dataset, if given), by candidate id."""
    query = select(RejectionRecord).order_by(RejectionRecord.dataset, RejectionRecord.candidate_id)
    if dataset is not None:
        query = query.where(RejectionRecord.dataset == dataset)
    with Session(engine) as session:
        return list(session.scalars(query))
