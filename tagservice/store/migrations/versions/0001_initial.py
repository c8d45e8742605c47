"""Initial schema: clinicians, passkeys, API tokens, tags, the audit chain and its head.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table(
        "clinician",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("register", sa.String(length=8), nullable=False),
        sa.Column("registration_number", sa.String(length=32), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("registration_expires", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("totp_secret_enc", sa.String(length=255), nullable=True),
        sa.Column("totp_last_counter", sa.Integer(), nullable=True),
        sa.Column("failed_signins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "register IN ('HCPC', 'GMC', 'NMC')", name=op.f("ck_clinician_register_valid")
        ),
        sa.CheckConstraint(
            "role IN ('paramedic', 'doctor', 'nurse', 'admin')",
            name=op.f("ck_clinician_role_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended')", name=op.f("ck_clinician_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinician")),
        sa.UniqueConstraint("email", name=op.f("uq_clinician_email")),
    )

    op.create_table(
        "passkey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("transports", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["clinician.id"],
            name=op.f("fk_passkey_clinician_id_clinician"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkey_credential_id")),
    )
    op.create_index(op.f("ix_passkey_clinician_id"), "passkey", ["clinician_id"])

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["clinician.id"],
            name=op.f("fk_api_token_clinician_id_clinician"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_clinician_id"), "api_token", ["clinician_id"])

    op.create_table(
        "tag",
        sa.Column("tag_id", sa.String(length=16), nullable=False),
        sa.Column("issuer_kid", sa.String(length=64), nullable=False),
        sa.Column("reader_kid", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("superseded_by", sa.String(length=16), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=200), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'superseded', 'revoked', 'expired')",
            name=op.f("ck_tag_status_valid"),
        ),
        sa.CheckConstraint("length(tag_id) = 16", name=op.f("ck_tag_tag_id_length")),
        sa.PrimaryKeyConstraint("tag_id", name=op.f("pk_tag")),
    )
    op.create_index(op.f("ix_tag_issuer_kid"), "tag", ["issuer_kid"])
    op.create_index(op.f("ix_tag_reader_kid"), "tag", ["reader_kid"])
    op.create_index(op.f("ix_tag_patient_id"), "tag", ["patient_id"])

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("registration", sa.String(length=48), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("tag_id", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("reason_text", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "actor_type IN ('clinician', 'patient', 'admin', 'system', 'cli')",
            name=op.f("ck_audit_event_actor_type_valid"),
        ),
        sa.CheckConstraint(
            "outcome IN ('success', 'denied', 'failed', 'error')",
            name=op.f("ck_audit_event_outcome_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index("ix_audit_event_actor", "audit_event", ["actor_type", "actor_id"])
    op.create_index(op.f("ix_audit_event_kind"), "audit_event", ["kind"])
    op.create_index(op.f("ix_audit_event_tag_id"), "audit_event", ["tag_id"])

    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain starts empty: the first event links to the all-zero genesis hash.
    op.bulk_insert(audit_head, [{"id": 1, "last_id": 0, "last_hash": GENESIS_HASH}])


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_event")
    op.drop_table("tag")
    op.drop_table("api_token")
    op.drop_table("passkey")
    op.drop_table("clinician")
