"""Metadata database: generation sessions, benchmark assets and rejections, through SQLAlchemy.

SQLite in the dataset directory is the default (``sqlite:///DIR/benchgen.db``); any
SQLAlchemy URL works, so a server database can replace it without code changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

SESSION_STATUSES = ("planning", "executing", "validating", "accepted", "rejected")


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of benchgen's tables."""


class GenerationSession(Base):
    """One attempt to author one benchmark: a candidate from planning to its verdict."""

    __tablename__ = "generation_sessions"

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

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("generation_sessions.id"))
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


def connect(url: str) -> Engine:
    """Open (and create the tables of) the metadata database at ``url``."""
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    return engine


def record_session(engine: Engine, **fields: Any) -> None:
    """Insert or update a generation session by id."""
    with Session(engine) as session, session.begin():
        row = session.get(GenerationSession, fields["id"])
        if row is None:
            session.add(GenerationSession(**fields))
        else:
            for key, value in fields.items():
                setattr(row, key, value)


def record_asset(engine: Engine, **fields: Any) -> None:
    """Insert or replace an accepted benchmark's record."""
    with Session(engine) as session, session.begin():
        session.merge(BenchmarkAsset(**fields))


def list_assets(engine: Engine) -> list[BenchmarkAsset]:
    """All benchmark records, in candidate order."""
    with Session(engine) as session:
        return list(session.scalars(select(BenchmarkAsset).order_by(BenchmarkAsset.candidate_index)))
