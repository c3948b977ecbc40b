"""Metadata database: generation sessions, benchmark assets and rejections, through SQLAlchemy.

SQLite in the dataset directory is the default (``sqlite:///DIR/benchgen.db``; for a
remote dataset, in its local work directory). Any SQLAlchemy URL works; PostgreSQL is
the supported server (``postgresql://user:pass@host/db`` is read as
``postgresql+psycopg://``, psycopg 3). One server database can hold many datasets: every
row carries its dataset's location.

The schema is managed by Alembic (migrations in ``benchgen/migrations/``); :func:`connect`
upgrades a database to the latest revision, and ``benchgen db upgrade`` does it alone.

:func:`connect` first opens one connection without retrying: a malformed URL, an unknown
driver, a wrong password, an unknown host or a closed port is a
:class:`DatabaseConfigError` (one line) before any work starts. After that, writes are
retried with bounded backoff when the server is unreachable (a restart), so a run survives
a database restart; pooled connections are checked before use. Rejected credentials are
never retried.

The store is the truth about what a dataset holds: :func:`existing_ids` and
:func:`backfill` let a run add the rows a long outage kept it from writing, and
:func:`abandon_sessions` closes sessions that no run will finish.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
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
    delete,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from benchgen.errors import InfrastructureError
from benchgen.retry import ConfigurationError, RetriesExhausted, RetryPolicy, call_with_retries
from benchgen.settings import Settings

SESSION_STATUSES = ("planning", "executing", "validating", "accepted", "rejected", "abandoned")
"""``abandoned``: the session was still in flight when its run ended (stopped at the N-th
acceptance, interrupted, or crashed); a later run that decides the candidate overwrites it."""
MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE_REVISION = "0001"
"""The schema that ``create_all`` made before migrations existed; such databases are stamped with it."""

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


class DatabaseUnavailable(InfrastructureError, RuntimeError):
    """The metadata database could not be reached, even after retries."""

    kind = "database"


class DatabaseConfigError(ConfigurationError):
    """The database URL, driver or credentials are wrong, or the server never answered."""

    kind = "database"


_REJECTED_CREDENTIALS = re.compile(
    r"password authentication failed|no pg_hba\.conf entry|role .* does not exist|"
    r"database .* does not exist|authentication failed",
    re.IGNORECASE,
)


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
    """The database retry policy from the environment, for callers that were handed none
    (``Settings.from_env().db_retry``: 8 tries, 0.5 s doubling up to 8 s, about 40 s;
    ``BENCHGEN_DB_RETRY_ATTEMPTS`` / ``_BASE_DELAY_S`` / ``_MAX_DELAY_S``)."""
    return Settings.from_env().db_retry


def _transient(exc: BaseException) -> bool:
    """Lost or refused connections (a restarting server, a locked SQLite file) are transient;
    rejected credentials and missing databases are not."""
    if isinstance(exc, DBAPIError) and _REJECTED_CREDENTIALS.search(str(exc.orig)):
        return False
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def with_retries(
    action: Callable[[], T],
    what: str,
    on_retry: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
) -> T:
    """Run one unit of database work, retried while the database is unreachable (``policy``
    None: :func:`retry_policy`)."""
    try:
        return call_with_retries(action, what, policy or retry_policy(), _transient, on_retry)
    except RetriesExhausted as exc:
        raise DatabaseUnavailable(str(exc)) from exc


def make_engine(url: str) -> Engine:
    """An engine for ``url`` whose pooled connections are checked before use (so connections
    broken by a server restart are replaced instead of failing the next write).

    Raises :class:`DatabaseConfigError` for a malformed URL or an unknown driver.
    """
    try:
        return create_engine(normalize_url(url), pool_pre_ping=True)
    except NoSuchModuleError:
        scheme = url.split(":", 1)[0]
        raise DatabaseConfigError(
            f"unknown database scheme {scheme!r} in --db (use postgresql://USER:PASSWORD@HOST[:PORT]/DB "
            "or sqlite:///PATH)"
        ) from None
    except (ArgumentError, ValueError) as exc:
        raise DatabaseConfigError(f"malformed database URL {_redact(url)!r}: {_one_line(str(exc))}") from None


def _redact(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def describe(engine: Engine) -> str:
    """The engine's URL without its password."""
    return engine.url.render_as_string(hide_password=True)


def check_connection(engine: Engine) -> None:
    """Open one connection, unretried: a database that never answered is misconfigured
    until proven otherwise. Raises :class:`DatabaseConfigError` in one line."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = _one_line(str(exc.orig))
        raise DatabaseConfigError(f"cannot use the database {describe(engine)}: {reason}") from None


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


def connect(
    url: str, on_retry: Callable[[str], None] | None = None, policy: RetryPolicy | None = None
) -> Engine:
    """Open the metadata database at ``url`` and upgrade its schema to the latest revision.

    Configuration errors (see :func:`make_engine`, :func:`check_connection`) are raised at
    once as :class:`DatabaseConfigError`; only later failures are retried.
    """
    engine = make_engine(url)
    ensure_directory(engine)
    check_connection(engine)
    with_retries(lambda: upgrade(engine), "upgrading the metadata database", on_retry, policy)
    return engine


def ensure_directory(engine: Engine) -> None:
    """Create the directory of a SQLite database file (:class:`DatabaseConfigError` if impossible)."""
    if engine.dialect.name == "sqlite" and engine.url.database and engine.url.database != ":memory:":
        try:
            os.makedirs(Path(engine.url.database).parent, exist_ok=True)
        except OSError as exc:
            raise DatabaseConfigError(f"cannot create the database {describe(engine)}: {exc}") from None


def _upsert(engine: Engine, model: type[Base], key: tuple[str, ...], fields: dict[str, Any]) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(model, key)
        if row is None:
            session.add(model(**fields))
        else:
            for name, value in fields.items():
                setattr(row, name, value)


def record_session(
    engine: Engine,
    on_retry: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
    **fields: Any,
) -> None:
    """Insert or update a generation session by (dataset, id)."""
    key = (fields["dataset"], fields["id"])
    with_retries(
        lambda: _upsert(engine, GenerationSession, key, fields), "recording a session", on_retry, policy
    )


def record_asset(
    engine: Engine,
    on_retry: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
    **fields: Any,
) -> None:
    """Insert or replace an accepted benchmark's record."""
    key = (fields["dataset"], fields["id"])
    with_retries(
        lambda: _upsert(engine, BenchmarkAsset, key, fields), "recording a benchmark", on_retry, policy
    )


def record_rejection(
    engine: Engine,
    on_retry: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
    **fields: Any,
) -> None:
    """Insert or replace a rejected candidate's record."""
    key = (fields["dataset"], fields["candidate_id"])
    with_retries(
        lambda: _upsert(engine, RejectionRecord, key, fields), "recording a rejection", on_retry, policy
    )


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


def abandon_sessions(
    engine: Engine,
    dataset: str,
    run_id: str | None = None,
    on_retry: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
) -> int:
    """Mark ``validating`` sessions of ``dataset`` as ``abandoned``: those of ``run_id`` (a run
    that ends), or all of them (at the start of a run: with one writer per dataset, no other
    run can still be working on them). Returns how many were marked."""

    def mark() -> int:
        query = (
            update(GenerationSession)
            .where(GenerationSession.dataset == dataset, GenerationSession.status == "validating")
            .values(status="abandoned", updated_at=_now())
        )
        if run_id is not None:
            query = query.where(GenerationSession.run_id == run_id)
        with Session(engine) as session, session.begin():
            return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]

    return with_retries(mark, "closing abandoned sessions", on_retry, policy)


def existing_ids(
    engine: Engine,
    dataset: str,
    on_retry: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
) -> tuple[set[str], set[str]]:
    """Ids of the benchmark rows and candidate ids of the rejection rows of ``dataset``."""

    def read() -> tuple[set[str], set[str]]:
        with Session(engine) as session:
            assets = set(session.scalars(select(BenchmarkAsset.id).where(BenchmarkAsset.dataset == dataset)))
            rejected = set(
                session.scalars(
                    select(RejectionRecord.candidate_id).where(RejectionRecord.dataset == dataset)
                )
            )
        return assets, rejected

    return with_retries(read, "reading the database's view of the dataset", on_retry, policy)


def backfill(
    engine: Engine,
    rows: Iterable[tuple[type[Base], dict[str, Any]]],
    on_retry: Callable[[str], None] | None = None,
    batch: int = 500,
    policy: RetryPolicy | None = None,
) -> int:
    """Insert or update ``(model, fields)`` rows, ``batch`` per transaction; returns the count."""
    pending: list[tuple[type[Base], dict[str, Any]]] = []
    count = 0

    def flush() -> None:
        with Session(engine) as session, session.begin():
            for model, fields in pending:
                session.merge(model(**fields))

    for row in rows:
        pending.append(row)
        if len(pending) >= batch:
            with_retries(flush, "backfilling the database", on_retry, policy)
            count += len(pending)
            pending.clear()
    if pending:
        with_retries(flush, "backfilling the database", on_retry, policy)
        count += len(pending)
    return count


def remove_assets(
    engine: Engine,
    dataset: str,
    ids: Iterable[str],
    on_retry: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
) -> int:
    """Delete the benchmark rows ``ids`` of ``dataset`` (rows of benchmarks the store does not hold)."""
    doomed = sorted(ids)
    if not doomed:
        return 0

    def remove() -> int:
        with Session(engine) as session, session.begin():
            query = delete(BenchmarkAsset).where(
                BenchmarkAsset.dataset == dataset, BenchmarkAsset.id.in_(doomed)
            )
            return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]

    return with_retries(remove, "removing database rows of unknown benchmarks", on_retry, policy)
