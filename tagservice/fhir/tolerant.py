"""Reading a FHIR Bundle one resource at a time, so one bad element never costs the card.

Real patient summaries (R4 or R4B, `document`, `searchset` or `collection`)
often hold an element the R4B models refuse: a Device name without its type,
a Composition section without `text.div`, an R5-style Medication ingredient,
`author` given as one object instead of a list. The card needs none of those,
so each resource is validated on its own; an element that fails is repaired
when the repair keeps its meaning (one object where a list is expected
becomes a list of one) and otherwise left out, and each of these is reported
in plain words: which resource, where, which element and why, never a value.
A resource the card needs that still cannot be read is reported by name.
Resource types the card never uses are not parsed at all.

Work is bounded: entries per bundle, nodes walked, repairs per resource and
in total. What is beyond a bound is refused with a clear message.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import fhirtypes
from pydantic import ValidationError

MAX_ENTRIES = 5000
MAX_NODES = 500_000  # JSON values walked in one bundle
MAX_REPAIRS_PER_RESOURCE = 25
MAX_REPAIRS = 2000
MAX_NESTING = 2  # a searchset of document Bundles is read; deeper nesting is not

# What the card reads, and how to name each in a message to the patient.
NEEDED = {
    "Patient": "the patient's details", "AllergyIntolerance": "an allergy",
    "MedicationStatement": "a medicine", "MedicationRequest": "a medicine",
    "Medication": "a medicine's name", "Condition": "a condition", "Flag": "an alert",
    "Consent": "a resuscitation decision", "Device": "a device",
    "DeviceUseStatement": "a device", "Observation": "a reading",
    "RelatedPerson": "a contact", "Composition": "the document's header",
    "Organization": "a GP practice", "Practitioner": "a clinician",
    "PractitionerRole": "a clinician",
}
_CHOICE = re.compile(r"Any of one field value is expected from this list \[([^\]]*)\]")


class FhirImportError(ValueError):
    """Not a FHIR Bundle this service can read (not a Bundle, no patient, beyond a bound);
    the message says why, in one line, without patient data."""


@dataclass
class ReadBundle:
    """The resources the card needs, parsed, with their fullUrls; plus what happened."""

    entries: list[tuple[str | None, Any]] = field(default_factory=list)
    other_kinds: list[str] = field(default_factory=list)  # types the card does not use
    problems: list[str] = field(default_factory=list)  # malformed parts, in plain words
    unreadable: list[str] = field(default_factory=list)  # needed resources lost, by name
    repairs: int = 0


def model_for(name: Any) -> Any:
    """The R4B model class of a resource type name, or None if there is no such type."""
    if not isinstance(name, str) or not name.isidentifier() or not name[:1].isupper():
        return None
    model = getattr(getattr(fhirtypes, f"{name}Type", None), "get_model_klass", None)
    klass = model() if model is not None else None
    return klass if klass is not None and klass.has_resource_base() else None


def quoted(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, str) and len(value) <= 40 and value.isprintable():
        return repr(value)
    return "not a resource type name"


def path_text(steps: tuple) -> str:
    """("section", 0, "text") → "section[0].text"; odd keys are not repeated."""
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", str(step)):
            out += f".{step}" if out else str(step)
        else:
            out += "[an odd key]"
    return out or "(whole resource)"


def read_bundle(data: Any) -> ReadBundle:
    """Parse what the card needs from a Bundle, reporting the rest; raise FhirImportError only
    when there is no Bundle to read or a bound is passed."""
    if not isinstance(data, dict):
        raise FhirImportError("Not a FHIR Bundle: expected a JSON object")
    if data.get("resourceType") != "Bundle":
        kind = quoted(data.get("resourceType"))
        raise FhirImportError(f"Not a FHIR Bundle: resourceType is {kind}")
    _count_nodes(data)
    result = ReadBundle()
    _read_entries(data, "Bundle", result, depth=1)
    return result


def _count_nodes(data: Any) -> None:
    stack, seen = [data], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise FhirImportError(f"This Bundle is too large to read (more than {MAX_NODES} "
                                "values); export a patient summary rather than the whole record")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _read_entries(bundle: dict, where: str, result: ReadBundle, depth: int) -> None:
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise FhirImportError(f"Not valid FHIR R4: {where}.entry: Input should be a valid list")
    if len(entries) > MAX_ENTRIES:
        raise FhirImportError(f"This Bundle has {len(entries)} entries; the most this service "
                            f"reads is {MAX_ENTRIES}")
    for index, entry in enumerate(entries):
        at = f"{where}.entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            if not isinstance(entry, dict) or "resource" in entry:
                result.problems.append(f"{at} holds no resource object; skipped")
            continue
        kind = resource.get("resourceType")
        model = model_for(kind)
        if model is None:
            result.problems.append(f"{at}: unknown resource type {quoted(kind)}; skipped")
        elif kind == "Bundle" and depth < MAX_NESTING:
            _read_entries(resource, f"{at}.resource", result, depth + 1)
        elif kind not in NEEDED:
            result.other_kinds.append(kind)
        else:
            parsed = _parse_resource(model, resource, f"{kind} at {at}", result)
            if parsed is not None:
                full_url = entry.get("fullUrl")
                result.entries.append((full_url if isinstance(full_url, str) else None, parsed))
            else:
                result.unreadable.append(f"{NEEDED[kind]} ({kind} at {at})")


def _parse_resource(model: Any, raw: dict, where: str, result: ReadBundle) -> Any:
    """Validate one resource, repairing or leaving out failing elements; None if it cannot be
    read even then (the reason is in result.problems)."""
    data = copy.deepcopy(raw)
    _drop_unknown_nested_types(data, where, result)
    left_out: list[str] = []
    for _attempt in range(MAX_REPAIRS_PER_RESOURCE + 1):
        try:
            parsed = model.model_validate(data)
        except ValidationError as error:
            problem = error.errors(include_url=False, include_input=False)[0]
            fixed = None
            if result.repairs < MAX_REPAIRS:
                fixed = _repair(data, tuple(problem["loc"]), problem)
            if fixed is None:
                result.problems.append(f"{where} could not be read: {_reason(problem)}")
                return None
            result.repairs += 1
            left_out.append(fixed)
            continue
        except (KeyError, TypeError, ValueError, RecursionError):
            # fhir.resources raises these, not ValidationError, for a few shapes
            result.problems.append(f"{where} could not be read: a malformed element")
            return None
        if left_out:
            result.problems.append(f"{where}: {'; '.join(dict.fromkeys(left_out))}; "
                                   "the rest was read")
        return parsed
    result.problems.append(f"{where} could not be read: too many malformed elements")
    return None


def _reason(problem: dict) -> str:
    where = path_text(tuple(problem["loc"]))
    kind = str(problem["type"])
    if kind.endswith("missing"):
        return f"{where}: required but missing"
    if kind == "extra_forbidden":
        return f"{where}: not an element of FHIR R4"
    message = " ".join(str(problem["msg"]).split()).removeprefix("Value error, ")
    return f"{where}: {message[:160]}"


def _walk(data: Any, loc: tuple) -> tuple[Any, Any, int]:
    """(parent, key, depth) of the deepest node of `loc` that exists in `data`."""
    parent, key, node, depth = None, None, data, 0
    for step in loc:
        if isinstance(node, dict) and step in node or isinstance(node, list) and isinstance(
                step, int) and 0 <= step < len(node):
            parent, key, node = node, step, node[step]
            depth += 1
        else:
            break
    return parent, key, depth


def _repair(data: dict, loc: tuple, problem: dict) -> str | None:
    """Change `data` so this problem goes away; say what was done, or None if nothing can be.

    A missing required element takes its containing element with it; anything else
    is left out itself, except one object given where a list belongs, which is
    wrapped, and a choice given twice, where the first kept value wins.
    """
    kind = str(problem["type"])
    if kind == "value_error" and not loc:
        choice = _CHOICE.search(str(problem["msg"]))
        given = [name.strip(" '\"") for name in (choice.group(1).split(",") if choice else [])]
        present = [name for name in given if name in data]
        if len(present) > 1:
            for name in present[1:]:
                del data[name]
            return f"left out {', '.join(present[1:])} (a second value where one is allowed)"
        return None
    if kind.endswith("missing") and loc == ("status",):
        # Older (STU3-style) records leave a medicine's status out. "unknown" is a code
        # of every status value set the card reads; a medicine of unknown status is
        # still shown, since hiding an anticoagulant would lose a critical fact.
        data["status"] = "unknown"
        return "read a missing status as unknown"
    target = loc[:-1] if kind.endswith("missing") else loc
    if not target:
        return None
    parent, key, depth = _walk(data, target)
    if parent is None or depth != len(target):
        parent, key, depth = _walk(data, target[:depth])
        if parent is None:
            return None
    if kind == "list_type" and isinstance(parent[key], dict) and depth == len(loc):
        parent[key] = [parent[key]]
        return f"read {path_text(loc)} as a list of one"
    reason = ("a required part is missing" if kind.endswith("missing")
              else "not an element of FHIR R4" if kind == "extra_forbidden" else "malformed")
    del parent[key]
    if isinstance(parent, list) and not parent and depth > 1:
        owner, owner_key, _ = _walk(data, target[: depth - 1])
        if isinstance(owner, dict) and owner.get(owner_key) == []:
            del owner[owner_key]  # FHIR has no empty lists
    return f"left out {path_text(target[:depth])} ({reason})"


def _drop_unknown_nested_types(data: dict, where: str, result: ReadBundle) -> None:
    """A contained resource of an unknown type makes the library fail outright: leave it out."""
    stack: list[tuple[Any, tuple]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))[::-1]  # from the end, so deleting keeps indexes
        else:
            continue
        for key, value in items:
            if isinstance(value, dict) and "resourceType" in value and model_for(
                    value["resourceType"]) is None:
                del node[key]
                kind = quoted(value["resourceType"])
                result.problems.append(f"{where}: left out {path_text((*path, key))} "
                                       f"(unknown resource type {kind})")
            else:
                stack.append((value, (*path, key)))
