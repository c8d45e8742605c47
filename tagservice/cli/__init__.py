"""The `tagservice` command: a Flask CLI group with one module per concern."""

from __future__ import annotations

# Importing these modules adds their commands to `main`.
from tagservice.cli import demo, doctor, linked, tags  # noqa: F401
from tagservice.cli.audit import audit as _audit_group
from tagservice.cli.clinicians import clinician_group as _clinician_group
from tagservice.cli.group import CommandError, main
from tagservice.cli.keys import keys_group as _keys_group

__all__ = ["CommandError", "main"]

for _group in (_keys_group, _audit_group, _clinician_group):
    main.add_command(_group)
