"""Baseline: the schema ``Base.metadata.create_all`` made before migrations existed.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the sessions and assets tables, keyed by id alone."""
    op.create_table(
        "generation_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("theme", sa.Text()),
        sa.Column("tier", sa.String(16)),
        sa.Column("author", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("code", sa.String(40)),
        sa.Column("message", sa.Text()),
        sa.Column("validation_logs", sa.JSON(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_generation_sessions_run_id", "generation_sessions", ["run_id"])
    op.create_table(
        "benchmark_assets",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("generation_sessions.id"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("mjcf_url", sa.Text(), nullable=False),
        sa.Column("script_url", sa.Text(), nullable=False),
        sa.Column("preview_url", sa.Text(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("difficulty", sa.Float(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("candidate_index", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("benchmark_assets")
    op.drop_table("generation_sessions")
