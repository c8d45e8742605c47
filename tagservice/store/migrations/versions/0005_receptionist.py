"""Receptionists: a role with no professional registration that never opens a summary.

The register and registration number become optional, for that role only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ROLES_BEFORE = "role IN ('paramedic', 'doctor', 'nurse', 'admin')"
_ROLES_AFTER = "role IN ('paramedic', 'doctor', 'nurse', 'admin', 'receptionist')"
_REGISTRATION_NEEDED = (
    "role = 'receptionist' OR (register IS NOT NULL AND registration_number IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("clinician") as batch:
        batch.drop_constraint(op.f("ck_clinician_role_valid"), type_="check")
        batch.create_check_constraint("role_valid", _ROLES_AFTER)
        batch.alter_column("register", existing_type=sa.String(length=8), nullable=True)
        batch.alter_column("registration_number", existing_type=sa.String(length=32), nullable=True)
        batch.create_check_constraint("registration_needed", _REGISTRATION_NEEDED)


def downgrade() -> None:
    # A receptionist's row cannot exist before this revision: those accounts go.
    op.execute("DELETE FROM clinician WHERE role = 'receptionist'")
    with op.batch_alter_table("clinician") as batch:
        batch.drop_constraint(op.f("ck_clinician_registration_needed"), type_="check")
        batch.alter_column(
            "registration_number", existing_type=sa.String(length=32), nullable=False
        )
        batch.alter_column("register", existing_type=sa.String(length=8), nullable=False)
        batch.drop_constraint(op.f("ck_clinician_role_valid"), type_="check")
        batch.create_check_constraint("role_valid", _ROLES_BEFORE)
