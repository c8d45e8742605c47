"""Reading a summary file for the command line: native JSON or a FHIR IPS Bundle.

Shared by `tagservice issue`, `capacity` and `update`, so each reads a file the
same way and says what it left off the same way.
"""

from __future__ import annotations

from tagservice import boundedjson
from tagservice.cli.group import CommandError
from tagservice.summary import model as summary_model


def load_summary_file(path: str, today, base_url: str, strict: bool = False
                      ) -> tuple[dict, list[str]]:
    """Read native JSON or a FHIR IPS Bundle; return (validated summary, notes).

    A FHIR record is fitted to the card (fit.py): what is left off or shortened
    comes back as notes, or, with `strict`, refuses. Native JSON is the
    patient's own summary and is taken whole or refused.
    """
    from tagservice.fhir import importer as fhir
    from tagservice.summary import fit

    try:
        data = boundedjson.read_file(path, boundedjson.IMPORT)
    except OSError as e:
        raise CommandError(f"cannot read {path}: {e.strerror}") from None
    except boundedjson.TooLarge as e:
        raise CommandError(f"{path} cannot be read: {e}") from None
    except ValueError as e:  # json.JSONDecodeError, UnicodeDecodeError
        raise CommandError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise CommandError(f"{path} must hold a JSON object")
    try:
        if not fhir.is_fhir_bundle(data):
            data.setdefault("meta", {}).setdefault("issued", today.isoformat())
            return summary_model.validate(data), []
        data, warnings = fhir.summary_from_ips(data, today)
        fitted = fit.fit(data, base_url, today)
        if strict and not fitted.complete:
            raise CommandError("--strict: the record does not fit the card whole; "
                               + "; ".join(fitted.notes))
        return fitted.summary, warnings + fitted.notes
    except summary_model.SummaryError as e:
        raise CommandError(field_errors(e)) from None
    except ValueError as e:  # FhirImportError, FitRefused: a readable message
        raise CommandError(str(e)) from None


def field_errors(error: summary_model.SummaryError) -> str:
    return "; ".join(f"{e.path}: {e.message}" for e in error.errors)
