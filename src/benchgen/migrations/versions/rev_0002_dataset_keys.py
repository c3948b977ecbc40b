"""Key every row by its dataset (one server database holds many datasets); add rejections.

Revision ID: 0002
Revises: 0001

Primary keys change, which SQLite cannot alter in place, so both tables are rebuilt: the
old ones are renamed aside, the new ones created, rows copied (their dataset unknown: ''),
and the old ones dropped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SESSION_COLUMNS = (
    "id, run_id, theme, tier, author, status, code, message, validation_logs, usage, created_at, updated_at"
)
ASSET_COLUMNS = (
    "id, session_id, name, tier, mjcf_url, script_url, preview_url, variants, difficulty, content_hash, "
    "candidate_index, created_at"
)


def _sessions() -> None:
    op.create_table(
        "generation_sessions",
        sa.Column("dataset", sa.String(1024), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
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
        sa.PrimaryKeyConstraint("dataset", "id", name="pk_generation_sessions"),
    )
    op.create_index("ix_generation_sessions_run_id", "generation_sessions", ["run_id"])


def _assets() -> None:
    op.create_table(
        "benchmark_assets",
        sa.Column("dataset", sa.String(1024), nullable=False),
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
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
        sa.PrimaryKeyConstraint("dataset", "id", name="pk_benchmark_assets"),
        sa.ForeignKeyConstraint(
            ["dataset", "session_id"],
            ["generation_sessions.dataset", "generation_sessions.id"],
            name="fk_benchmark_assets_session",
        ),
    )


def _rejections() -> None:
    op.create_table(
        "rejections",
        sa.Column("dataset", sa.String(1024), nullable=False),
        sa.Column("candidate_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("family", sa.String(64), nullable=False),
        sa.Column("script_sha256", sa.String(64), nullable=False),
        sa.Column("candidate", sa.JSON(), nullable=False),
        sa.Column("archive_url", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "candidate_id", name="pk_rejections"),
    )
    op.create_index("ix_rejections_code", "rejections", ["code"])


def upgrade() -> None:
    """Rebuild sessions and assets with (dataset, id) keys; create the rejections table."""
    op.drop_index("ix_generation_sessions_run_id", table_name="generation_sessions")
    op.rename_table("benchmark_assets", "benchmark_assets_0001")
    op.rename_table("generation_sessions", "generation_sessions_0001")
    _sessions()
    _assets()
    op.execute(
        f"INSERT INTO generation_sessions (dataset, {SESSION_COLUMNS}) "
        f"SELECT '', {SESSION_COLUMNS} FROM generation_sessions_0001"
    )
    op.execute(
        f"INSERT INTO benchmark_assets (dataset, {ASSET_COLUMNS}) SELECT '', {ASSET_COLUMNS} FROM benchmark_assets_0001"
    )
    op.drop_table("benchmark_assets_0001")
    op.drop_table("generation_sessions_0001")
    _rejections()


def downgrade() -> None:
    """Not supported: rows of different datasets may share an id."""
    raise NotImplementedError("benchgen does not downgrade the metadata database")
