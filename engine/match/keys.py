"""How two people records are compared when matching (engine/match/people.py decides with them).

Keys are computed once per record and looked up in an index, never compared pairwise; each
function here says what counts as "the same" for one kind of evidence.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from typing import Any

from engine.records import Record

# A ParentPay pre-admission may since have started school: it matches a Bromcom pupil too,
# and the next run converts it (same account), as it would any pre-admission on roll.
COMPATIBLE = {"pupil": ("pupil",), "preadmission": ("preadmission", "pupil"), "staff": ("staff",)}
PUPIL_LIKE = ("pupil", "preadmission")


# -- normalising names -------------------------------------------------------------------------


def name_key(value: Any) -> str:
    """A name as compared: case folded, accents kept, spaces, hyphens, apostrophes and dots ignored.

    "Smith-Jones", "smith jones" and "SMITHJONES" are one name; "O'Brien" and "O’Brien" (a
    curly apostrophe from a word processor) too. Accents are kept: Siân and Sian are different
    names in Welsh, and folding them would propose pairs nobody checked. NFC first, so an accent
    typed as a separate combining mark compares equal to the precomposed letter.
    """
    if not isinstance(value, str):
        return ""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())
    return "".join(ch for ch in folded if ch.isalnum() or unicodedata.category(ch).startswith("M"))


def strip_accents(key: str) -> str:
    return "".join(
        ch
        for ch in unicodedata.normalize("NFD", key)
        if not unicodedata.category(ch).startswith("M")
    )


def names(record: Record) -> set[tuple[str, str]]:
    """(forename, surname) keys of a record: preferred and legal names, in every combination."""
    f = record["fields"]
    forenames = {name_key(f.get("forename")), name_key(f.get("legal_forename"))} - {""}
    surnames = {name_key(f.get("surname")), name_key(f.get("legal_surname"))} - {""}
    return {(a, b) for a in forenames for b in surnames}


def upn(record: Record) -> str:
    value = record["fields"].get("upn")
    return value.strip().casefold() if isinstance(value, str) else ""


def email(record: Record) -> str:
    value = record["fields"].get("email")
    return value.strip().casefold() if isinstance(value, str) else ""


def display_name(record: Record) -> str:
    """'Alex (Alexander) Whitfield': the name used, with the legal one where it differs."""
    f = record["fields"]
    forename, surname = f.get("forename") or "", f.get("surname") or ""
    legal_fore, legal_sur = f.get("legal_forename") or "", f.get("legal_surname") or ""
    if legal_fore and name_key(legal_fore) != name_key(forename):
        forename = f"{forename} ({legal_fore})" if forename else legal_fore
    if legal_sur and name_key(legal_sur) != name_key(surname):
        surname = f"{surname} ({legal_sur})" if surname else legal_sur
    return " ".join(p for p in (forename, surname) if p) or "(no name)"


def upn_keys(record: Record) -> list[str]:
    return [upn(record)] if record["type"] in PUPIL_LIKE and upn(record) else []


def name_dob_keys(record: Record) -> list[tuple[str, str, str]]:
    dob = record["fields"].get("dob")
    if record["type"] not in PUPIL_LIKE or not dob:
        return []
    return [(dob, fore, sur) for fore, sur in names(record)]


def accentless_keys(record: Record) -> list[tuple[str, str, str]]:
    return [
        (dob, strip_accents(fore), strip_accents(sur)) for dob, fore, sur in name_dob_keys(record)
    ]


def staff_name_keys(record: Record) -> list[tuple[str, str]]:
    return sorted(names(record)) if record["type"] == "staff" else []


def staff_email_keys(record: Record) -> list[tuple[str, str]]:
    surname = name_key(record["fields"].get("surname"))
    return (
        [(email(record), surname)]
        if record["type"] == "staff" and email(record) and surname
        else []
    )


def same_person(pp: Record, bc: Record) -> bool:
    """Whether a ParentPay record already under a Bromcom ID can be that Bromcom person.

    Another MIS's IDs may be numbers too, so an equal ID alone does not prove the same child:
    a UPN or date of birth that differs (both known), or for staff a name and an email that
    both differ, says it is someone else's account, and re-using it would put that child's
    balance on this one.
    """
    if pp["type"] == "staff":
        return bool(names(pp) & names(bc)) or (email(pp) != "" and email(pp) == email(bc))
    if upn(pp) and upn(bc):
        return upn(pp) == upn(bc)
    dobs = pp["fields"].get("dob"), bc["fields"].get("dob")
    return not all(dobs) or dobs[0] == dobs[1]


def in_scope(record: Record, types: Collection[str]) -> bool:
    """Whether a ParentPay record takes part in matching when the school uploads `types`."""
    return any(kind in types for kind in COMPATIBLE.get(record["type"], ()))


def name_reason(pp: Record, bc: Record) -> str:
    same_legal = names(pp) & {
        (name_key(bc["fields"].get("legal_forename")), name_key(bc["fields"].get("legal_surname")))
    }
    return "same " + ("legal" if same_legal else "preferred") + " name and date of birth"


def emails_differ(pp: Record, bc: Record) -> bool:
    return bool(email(pp) and email(bc) and email(pp) != email(bc))
