"""Change the key-encryption key: re-seal every secret under a new KEK, all or nothing.

What the KEK seals: the private keys in keys.json, and in the database the
clinicians' and patients' TOTP secrets and the patients' drafts, cards and
print choices (`SEALED`; a test checks that every `*_enc` column is listed).

All or nothing, in this order:
1. Prove the old KEK opens everything; re-seal keys.json into `keys.json.new`
   and write the new KEK next to it (`kek.new`, or `kek.next` when the KEK
   comes from TAGSERVICE_KEK); note the change in `kek-change.json`.
2. In one database transaction re-seal every row and add the `key.kek_changed`
   audit event; do not commit yet.
3. Switch the files (the old ones kept as `*.old-kek`), then commit: the commit
   is the point of no return. Any error before it puts the old files back and
   rolls the transaction back, so the old KEK keeps working.
4. Remove the old files and the journal.
A run killed in step 3 leaves the journal: the next `change-kek` (or `recover`)
reads the database for the audit event and finishes or undoes the change.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import create_engine, select

from tagservice import keys
from tagservice.config import Settings
from tagservice.store import statements
from tagservice.store.db import begin_write, db, engine_url
from tagservice.store.models import Clinician, Patient


@dataclass(frozen=True)
class Sealed:
    """A database column sealed under the KEK, and the label it was sealed with."""

    model: type
    column: str
    label: Callable[[object], str]


SEALED = (
    Sealed(Clinician, "totp_secret_enc", lambda row: f"totp:{row.id}"),
    Sealed(Patient, "totp_secret_enc", lambda row: f"patient-totp:{row.id}"),
    Sealed(Patient, "draft_enc", lambda row: f"patient-draft:{row.id}"),
    Sealed(Patient, "card_enc", lambda row: f"patient-card:{row.id}"),
    Sealed(Patient, "print_critical_enc", lambda row: f"patient-print:{row.id}"),
)
JOURNAL = "kek-change.json"
OLD = ".old-kek"


@dataclass(frozen=True)
class Changed:
    rows: int
    keys: int
    new_kek_file: Path
    from_environment: bool

    def next_steps(self) -> list[str]:
        if self.from_environment:
            return [
                f"Set TAGSERVICE_KEK to the contents of {self.new_kek_file} in your secret "
                "store, restart the service, then delete that file.",
                "Until the restart the service refuses to start with the old TAGSERVICE_KEK.",
            ]
        return [
            f"The new KEK is in {self.new_kek_file} (mode 600); the old one is gone.",
            "Back the new KEK up now, separately from keys.json and the database: "
            "backups made before this change need the old KEK.",
        ]


class ChangeFailed(keys.KeyStoreError):
    """The change did not happen; the old KEK still opens everything."""


def _paths(settings: Settings) -> dict[str, Path]:
    home = settings.home
    return {
        "journal": home / JOURNAL,
        "keyring": settings.keyring_file,
        "keyring_new": home / "keys.json.new",
        "kek": settings.kek_file,
        "kek_new": home / ("kek.next" if settings.kek else "kek.new"),
    }


def change_kek(settings: Settings, *, fail_at: str | None = None) -> Changed:
    """Re-seal everything under a new KEK (needs an app context). `fail_at` is for tests."""
    paths = _paths(settings)
    old = keys.load_kek(settings)
    keyring = keys.load_keyring(settings)
    keyring.keyset(old)  # the old KEK must open every key before anything changes
    new_text = keys.generate_kek()
    new = keys.parse_kek(new_text)
    records = tuple(
        replace(r, private=keys.encrypt_at_rest(
            new, keys.decrypt_at_rest(old, r.private, f"key:{r.kid}"), f"key:{r.kid}"))
        for r in keyring.records
    )  # fmt: skip
    change_id = secrets.token_hex(8)
    keys.write_private(paths["journal"], json.dumps({"change": change_id}))
    switched: list[str] = []
    try:
        keys.write_private(paths["keyring_new"], keys.Keyring(records).to_json())
        keys.write_private(paths["kek_new"], new_text + "\n")
        rows = _reseal_rows(old, new, fail_at)
        from tagservice.audit import EventKind, record_event

        record_event(EventKind.KEY_KEK_CHANGED, outcome="success", actor_type="cli",
                     change=change_id, rows=rows, keys=len(records), commit=False)  # fmt: skip
        db.session.flush()
        names = ["keyring"] if settings.kek else ["keyring", "kek"]
        for name in names:
            os.replace(paths[name], _old(paths[name]))
            switched.append(name)
            os.replace(paths[f"{name}_new"], paths[name])
            if fail_at == "switch":
                raise OSError("injected failure while switching files")
        db.session.commit()  # the point of no return
    except BaseException:
        db.session.rollback()  # what the database does anyway if this process dies
        _undo(paths, switched)
        raise
    _remove(*(_old(paths[name]) for name in switched), paths["journal"])
    new_file = paths["kek_new"] if settings.kek else paths["kek"]
    return Changed(rows, len(records), new_file, bool(settings.kek))


def _undo(paths: dict[str, Path], switched: list[str]) -> None:
    """Put the old files back (what `recover` does if this process is killed instead)."""
    for name in reversed(switched):
        os.replace(_old(paths[name]), paths[name])
    _remove(paths["keyring_new"], paths["kek_new"], paths["journal"])


def _reseal_rows(old: bytes, new: bytes, fail_at: str | None) -> int:
    begin_write()
    count = 0
    for sealed in SEALED:
        column = getattr(sealed.model, sealed.column)
        query = select(sealed.model).where(column.is_not(None)).with_for_update()
        for row in db.session.scalars(query):
            label = sealed.label(row)
            plain = keys.decrypt_at_rest(old, getattr(row, sealed.column), label)
            setattr(row, sealed.column, keys.encrypt_at_rest(new, plain, label))
            count += 1
            if fail_at == "rows" and count == 2:
                raise RuntimeError("injected failure while re-sealing rows")
    return count


def _old(path: Path) -> Path:
    return path.with_name(path.name + OLD)


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def recover(settings: Settings) -> str | None:
    """Finish or undo a change that was killed part-way; None if there was none.

    Runs without the app (which refuses to start on half-switched files): it asks
    the database directly whether the change's audit event was committed.
    """
    paths = _paths(settings)
    if not paths["journal"].exists():
        return None
    change_id = json.loads(paths["journal"].read_text())["change"]
    engine = create_engine(engine_url(settings.database_url))
    try:
        with engine.connect() as conn:
            found = conn.execute(statements.KEK_CHANGES_NEWEST_FIRST).scalars()
            committed = any(json.loads(d).get("change") == change_id for d in found)
    finally:
        engine.dispose()
    names = ["keyring"] if settings.kek else ["keyring", "kek"]
    if committed:
        _remove(*(_old(paths[n]) for n in names), paths["keyring_new"], paths["journal"])
        if not settings.kek:
            _remove(paths["kek_new"])
        return "an interrupted KEK change had been committed: finished (the new KEK is in use)"
    for name in names:
        if _old(paths[name]).exists():
            os.replace(_old(paths[name]), paths[name])
    _remove(paths["keyring_new"], paths["kek_new"], paths["journal"])
    return ("an interrupted KEK change had not been committed: undone (the old KEK is in use); "
            "run `tagservice keys change-kek` again to change it")
