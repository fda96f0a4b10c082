"""LLM notes: what the optional LLM coach added to a graded answer, kept apart from the grade of record.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_notes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('feedback', 'follow_up')", name="ck_llm_notes_kind"),
        sa.CheckConstraint("status IN ('pending', 'done', 'failed')", name="ck_llm_notes_status"),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name="fk_llm_notes_attempt_id_attempts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_llm_notes_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_llm_notes"),
        sa.UniqueConstraint("attempt_id", "kind", name="uq_llm_notes_attempt_id_kind"),
    )
    op.create_index("ix_llm_notes_user_id", "llm_notes", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_llm_notes_user_id", table_name="llm_notes")
    op.drop_table("llm_notes")
