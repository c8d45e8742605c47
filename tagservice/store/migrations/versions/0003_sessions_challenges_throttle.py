"""Server-side sessions, single-use passkey challenges, sign-in throttling.

Replaces the per-account lockout (failed_signins, locked_until) with failures
counted per client and typed email (signin_failure). Sessions from before this
revision carry no server-side id and end: everyone signs in once more.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proved_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(clinician_id IS NULL) <> (patient_id IS NULL)",
            name=op.f("ck_web_session_one_account"),
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["clinician.id"],
            name=op.f("fk_web_session_clinician_id_clinician"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_web_session_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_clinician_id"), "web_session", ["clinician_id"])
    op.create_index(op.f("ix_web_session_patient_id"), "web_session", ["patient_id"])

    op.create_table(
        "webauthn_challenge",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["clinician.id"],
            name=op.f("fk_webauthn_challenge_clinician_id_clinician"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webauthn_challenge")),
    )
    op.create_index(
        op.f("ix_webauthn_challenge_created_at"), "webauthn_challenge", ["created_at"]
    )

    op.create_table(
        "signin_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_key", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_failure")),
    )
    op.create_index("ix_signin_failure_account", "signin_failure", ["account_key", "at"])
    op.create_index("ix_signin_failure_client", "signin_failure", ["client", "at"])
    op.create_index(op.f("ix_signin_failure_at"), "signin_failure", ["at"])

    for table in ("clinician", "patient"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("failed_signins")
            batch.drop_column("locked_until")


def downgrade() -> None:
    for table in ("clinician", "patient"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("failed_signins", sa.Integer(), nullable=False, server_default="0")
            )
            batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True)))
    op.drop_table("signin_failure")
    op.drop_table("webauthn_challenge")
    op.drop_table("web_session")
