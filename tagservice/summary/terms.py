"""The clinical concept groups that change emergency treatment: the only place that knows them.

Anaphylaxis, anticoagulants, insulins, systemic steroids, adrenal
insufficiency, epilepsy, type 1 diabetes, devices and DNACPR are recognised
here, by code (SNOMED CT, ATC, RxNorm) and by name (generic and brand, UK
and other European spellings), for every path: FHIR import, the portal
editor, the command line, the API and the pages. The facts are data, in
data/terms.json, with the public source of each list beside it (WHO ATC
index, NLM RxNorm, SNOMED CT browser, BNF chapters; facts, not copied text).

Wording is matched as whole words after folding case and accents, with a
small NegEx-style rule (a cue such as "no", "stopped" or "refuted" in the
same clause negates), so "no anaphylaxis" and "Warfarin stopped" raise
nothing. Near-spellings of long names ("apixiban", "anaphalaxis") match;
short ones do not, because "inulin" is not "insulin".
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from importlib import resources
from typing import Any

Coding = tuple[str | None, str | None]  # (system, code) as a FHIR Coding gives them

_CLAUSE = re.compile(r"[.;:,!?\n]|\bbut\b|\bhowever\b")
_NEGATION_WINDOW = 4  # words before a concept that a cue such as "no" reaches
_FUZZY_MIN = 8  # names shorter than this must be spelled exactly
_MAX_TEXT = 2000  # longer text is read only this far: bounded work per field
_ATC_SHAPE = re.compile(r"[A-Z][0-9]{2}(?:[A-Z](?:[A-Z](?:[0-9]{2})?)?)?")


@cache
def data() -> dict[str, Any]:
    """The terminology file, read once."""
    text = resources.files("tagservice").joinpath("data/terms.json").read_text("utf-8")
    return json.loads(text)


def fold(text: str) -> str:
    """Lower case, no accents, letters and digits as single-spaced words ("Warfarin5mg" →
    "warfarin 5 mg")."""
    text = unicodedata.normalize("NFKD", text[:_MAX_TEXT].casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])", " ", text)
    return " ".join(re.findall(r"[a-z0-9]+", text))


def words(text: str) -> list[str]:
    return fold(text).split()


# ------------------------------------------------------------------ codes


@lru_cache(maxsize=256)
def system_kind(system: str | None) -> str | None:
    """"snomed" | "atc" | "rxnorm" for the ways real bundles write those code systems."""
    if not system:
        return None
    plain = system.strip().rstrip("/").lower().replace("https://", "http://")
    for kind, urls in data()["systems"].items():
        if plain in (u.rstrip("/").lower() for u in urls):
            return kind
    return "atc" if "whocc" in plain or plain.endswith("/atc") else None


def _coded(codings: Iterable[Coding], kind: str) -> list[str]:
    return [code.strip() for system, code in codings
            if isinstance(code, str) and system_kind(system) == kind]


def _group_codes(group: dict, codings: list[Coding]) -> str | None:
    """The display name of the first coding in this group, or "" for a class-only match."""
    for code in _coded(codings, "atc"):
        code = code.upper()
        if code in group.get("atc", {}):
            return group["atc"][code]
        if _ATC_SHAPE.fullmatch(code) and any(code.startswith(p) for p in group["atc_prefixes"]):
            return ""
    for kind in ("rxnorm", "snomed"):
        for code in _coded(codings, kind):
            if code in group.get(kind, {}):
                return group[kind][code]
    return None


def display_for(codings: Iterable[Coding]) -> str | None:
    """A readable name for a medicine or concept known only by its code, if we know the code."""
    codings = list(codings)
    for group in [*data()["medicine_groups"].values(), *data()["condition_groups"].values()]:
        name = _group_codes({"atc_prefixes": (), **group}, codings)
        if name:
            return name
    for code in _coded(codings, "snomed"):
        if code in data()["anaphylaxis"]["snomed"]:
            return data()["anaphylaxis"]["snomed"][code]
    return None


# ------------------------------------------------------------------ wording


def _distance_at_most(a: str, b: str, limit: int) -> bool:
    """Damerau-Levenshtein distance <= limit (bounded: words are short)."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        if min(row) > limit:
            return False
        previous2, previous = previous, row
    return previous[-1] <= limit


def _fuzzy_limit(word: str) -> int:
    return 0 if len(word) < _FUZZY_MIN else 1 if len(word) < 11 else 2


@lru_cache(maxsize=256)
def _compiled(phrases: tuple[str, ...]) -> tuple[dict[str, tuple[tuple[str, ...], ...]],
                                                 dict[str, tuple[str, ...]]]:
    """Phrases folded and indexed by their first word, plus the long one-word phrases that
    may match a near-spelling. Cached: the same lists are asked about on every page. (Only
    the terminology's own lists are cached, never a patient's text.)"""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        split = tuple(fold(phrase).split())
        if split:
            by_first.setdefault(split[0], []).append(split)
    near: dict[str, set[str]] = {}
    for group in by_first.values():
        for split in group:
            if len(split) == 1 and len(split[0]) >= _FUZZY_MIN:
                near.setdefault(split[0][:2], set()).add(split[0])
    return ({word: tuple(group) for word, group in by_first.items()},
            {prefix: tuple(sorted(words)) for prefix, words in near.items()})


def _near(token: str, by_prefix: dict[str, tuple[str, ...]]) -> str | None:
    """The candidate `token` is a near-spelling of, if any. A slip in the first two letters
    is not looked for: it keeps the work small and such a slip is rare."""
    if len(token) < _FUZZY_MIN - 1:
        return None
    return next((word for word in by_prefix.get(token[:2], ())
                 if _distance_at_most(token, word, _fuzzy_limit(word))), None)


@cache
def _negation() -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    table = data()["negation"]
    return (frozenset(table["terminators"]), tuple(table["before"]), tuple(table["after"]),
            tuple(table["pseudo"]))


def _negated(tokens: tuple[str, ...], start: int, end: int) -> bool:
    stops, cues_before, cues_after, _pseudo = _negation()
    window = tokens[max(0, start - _NEGATION_WINDOW):start]
    cut = max((i + 1 for i, word in enumerate(window) if word in stops), default=0)
    following = tokens[end:]
    reach = next((i for i, word in enumerate(following) if word in stops), len(following))
    before = " " + " ".join(window[cut:]) + " "
    after = " " + " ".join(following[:reach]) + " "
    return any(f" {cue} " in before for cue in cues_before) or any(
        f" {cue} " in after for cue in cues_after)


def _clauses(text: str) -> tuple[tuple[str, ...], ...]:
    clauses = []
    for clause in _CLAUSE.split(text[:_MAX_TEXT].casefold()):
        folded = f" {fold(clause)} "
        for pseudo in _negation()[3]:
            folded = folded.replace(f" {pseudo} ", " affirmed ")
        clauses.append(tuple(folded.split()))
    return tuple(clauses)


def _affirmed(text: str | tuple | None, phrases: tuple[str, ...], fuzzy: bool = False,
              token_test=None) -> str | None:
    """The first phrase `text` (or its _clauses, when asked about several lists) says without
    negating it, else None."""
    if not text:
        return None
    by_first, near_words = _compiled(phrases)
    for tokens in _clauses(text) if isinstance(text, str) else text:
        for start, token in enumerate(tokens):
            if token_test is not None:
                if token_test(token) and not _negated(tokens, start, start + 1):
                    return token
                continue
            for split in by_first.get(token, ()):
                end = start + len(split)
                if tokens[start:end] == split and not _negated(tokens, start, end):
                    return " ".join(split)
            near = _near(token, near_words) if fuzzy and near_words else None
            if near and not _negated(tokens, start, start + 1):
                return near
    return None


@lru_cache(maxsize=256)
def _folded(phrases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f" {fold(phrase)} " for phrase in phrases)


def mentions(text: str, phrases: Iterable[str]) -> bool:
    """True if `text` contains any phrase as whole words (no negation rule)."""
    padded = f" {fold(text)} "
    return any(phrase in padded for phrase in _folded(tuple(phrases)))


# ------------------------------------------------------------------ anaphylaxis


def _anaphylaxis_word(token: str) -> bool:
    group = data()["anaphylaxis"]
    if any(token.startswith(stem) for stem in group["stems"]):
        return True
    return len(token) >= 9 and token[0] == "a" and any(
        _distance_at_most(token, target, 2) for target in group["typo_targets"])


def says_anaphylaxis(text: str | None, codings: Iterable[Coding] = ()) -> bool:
    """True when a reaction (text or manifestation code) is anaphylaxis, in any common
    wording, spelling or language, and is not negated ("no anaphylaxis")."""
    if any(code in data()["anaphylaxis"]["snomed"] for code in _coded(codings, "snomed")):
        return True
    return _affirmed(text, (), token_test=_anaphylaxis_word) is not None


# ------------------------------------------------------------------ medicines


@cache
def _names(key: str) -> tuple[str, ...]:
    group = data()["medicine_groups"][key]
    return (*group["names"], *group["brands"])


def medicine_groups(name: str | None, codings: Iterable[Coding] = ()) -> set[str]:
    """The groups ("anticoagulant", "insulin", "systemic-steroid") a medicine belongs to.

    A code decides alone; a name counts unless the text negates it ("Warfarin
    stopped", "not on insulin"). A steroid cream or inhaler is not systemic.
    """
    codings = list(codings)
    clauses = _clauses(name) if name else ()
    found = set()
    for key, group in data()["medicine_groups"].items():
        if _group_codes(group, codings) is not None or _affirmed(clauses, _names(key), fuzzy=True):
            found.add(key)
    steroid = data()["medicine_groups"]["systemic-steroid"]
    if ("systemic-steroid" in found and _group_codes(steroid, codings) is None
            and name and mentions(name, steroid["not_systemic"])):
        found.discard("systemic-steroid")  # a cream, an inhaler: ATC H02 would have said so
    return found


def medicine_alert_codes(name: str | None, codings: Iterable[Coding] = ()) -> set[str]:
    """Alert codes a current medicine raises by itself (anticoagulant, insulin-diabetes)."""
    return group_alert_codes(medicine_groups(name, codings))


def group_alert_codes(found: set[str]) -> set[str]:
    """Alert codes of medicine groups found by `medicine_groups` (computed once per medicine)."""
    groups = data()["medicine_groups"]
    return {groups[key]["alert"] for key in found if groups[key]["alert"]}


# ------------------------------------------------------------------ conditions


def condition_alert_codes(name: str | None, codings: Iterable[Coding] = ()) -> set[str]:
    """Alert codes a current condition raises: adrenal insufficiency, epilepsy,
    insulin-treated (type 1) diabetes. "Non-insulin-dependent diabetes" raises nothing."""
    snomed = set(_coded(list(codings), "snomed"))
    clauses = _clauses(name) if name else ()
    return {group["alert"] for group in data()["condition_groups"].values()
            if snomed & set(group["snomed"]) or _affirmed(clauses, tuple(group["phrases"]))}


# ------------------------------------------------------------------ alerts, devices, NKA


def alert_code_for_text(text: str) -> str:
    """The alert code a free-text flag plainly states, else "other" (text kept)."""
    table = data()["alert_phrases"]
    for code, phrases in table["order"]:
        if "ReSPECT" in text and code == "respect" or mentions(text, phrases):
            remainder = f" {fold(text)} "
            for phrase in phrases:
                remainder = remainder.replace(f" {fold(phrase)} ", " ")
            negated = any(f" {word} " in remainder for word in table["negation"])
            return "other" if negated else code
    return "other"


def device_code(text: str, snomed_codes: Iterable[str]) -> str:
    """"icd" | "pacemaker" | "insulin-pump" | "other-device" for an implanted device."""
    snomed = set(snomed_codes)
    for code, device_codes, phrases in data()["devices"]["order"]:
        if snomed & set(device_codes) or mentions(text, phrases):
            return code
    return "other-device"


def is_implant(text: str) -> bool:
    """True when a device's words say it is inside the body (a stent, a hip prosthesis)."""
    return mentions(text, data()["devices"]["implant_words"]) or any(
        stem in fold(text) for stem in data()["devices"]["implant_stems"])


def is_dnacpr_code(snomed_codes: Iterable[str]) -> bool:
    return bool(set(snomed_codes) & set(data()["dnacpr"]["snomed"]))


def no_known_allergy(snomed_codes: Iterable[str], ips_codes: Iterable[str]) -> str | None:
    """"all" for "no known allergy"; the substance class for a partial statement
    ("drugs" for "no known drug allergy"), which says nothing about other substances."""
    table = data()["no_known_allergy"]
    snomed, ips = set(snomed_codes), set(ips_codes)
    if snomed & set(table["snomed"]) or ips & set(table["ips"]):
        return "all"
    partial = sorted(code for code in snomed if code in table["partial_snomed"])
    return table["partial_snomed"][partial[0]] if partial else None


def says_no_known_allergies(text: str | None) -> bool:
    return bool(text) and fold(text) in map(fold, data()["no_known_allergy"]["phrases"])


def alert_line(code: str) -> str:
    return data()["alert_lines"][code]


def anaphylaxis_line() -> str:
    return data()["anaphylaxis"]["line"]
