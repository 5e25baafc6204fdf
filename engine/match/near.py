"""Possible matches: two records that are not the same person by the keys people trust, but may be.

engine/match/people.py pairs records that are the same by a UPN, or by name and date of birth
(staff: by name, or e-mail and surname). A record an older MIS typed differently escapes it: a
nickname (Will for William, Siobhan for Joan), a typing slip (Smyth for Smith), surname words
the other way round, a date of birth a day out or with day and month swapped. `near_reasons`
says why two such records may be one person, so that a person decides; nothing here is ever
applied. Names are normalised as in engine/match/keys.py, so the two modules agree on what is
exact. The forename variants are the shipped list engine/match/forenames.txt.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any

from engine.match.keys import (
    PUPIL_LIKE,
    name_dob_keys,
    name_key,
    staff_email_keys,
    staff_name_keys,
    strip_accents,
    upn,
    upn_keys,
)
from engine.records import Record, natural_key

__all__ = ["NearIndex", "common_variants", "find_near", "forename_groups", "near_reasons"]

_WORDS = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014]+")  # spaces and hyphens of any kind


@functools.cache
def forename_groups() -> dict[str, frozenset[int]]:
    """Each forename of the shipped list (normalised, accents dropped) -> the groups it is in."""
    text = resources.files("engine.match").joinpath("forenames.txt").read_text(encoding="utf-8")
    groups: dict[str, set[int]] = defaultdict(set)
    number = 0
    for line in text.splitlines():
        names = [_bare(n) for n in line.split("#", 1)[0].split(",")]
        names = [n for n in names if n]
        if names:
            number += 1
            for name in names:
                groups[name].add(number)
    return {name: frozenset(ids) for name, ids in groups.items()}


def common_variants(a: str, b: str) -> bool:
    """Whether two forenames are in one group of the shipped list (Will and William, Dai and Dafydd)."""
    return _variants(_bare(a), _bare(b))


def _variants(bare_a: str, bare_b: str) -> bool:
    groups = forename_groups()
    return bool(groups.get(bare_a, frozenset()) & groups.get(bare_b, frozenset()))


def _bare(value: Any) -> str:
    """A name as keys.name_key compares it, with the accents dropped too."""
    return strip_accents(name_key(value))


# -- one record, prepared once -----------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
    raw: str  # as typed, for the reason
    key: str  # keys.name_key: equal keys are the same name
    bare: str  # the key without accents
    words: tuple[str, ...]  # the bare keys of its words ("Jones-Evans": jones, evans)


@dataclass(frozen=True)
class _Person:
    record: Record
    kind: str  # "pupil" for pupils and pre-admissions, "staff", or "" (never near)
    forenames: tuple[_Name, ...]
    surnames: tuple[_Name, ...]
    dob: date | None
    dob_text: str
    upn: str
    exact: frozenset[tuple[str, ...]]  # what engine/match/people.py matches on


def _names(fields: dict[str, Any], *names: str) -> tuple[_Name, ...]:
    out: dict[str, _Name] = {}
    for name in names:
        raw = fields.get(name)
        key = name_key(raw)
        if not key or key in out:  # the preferred name first: that is the one shown
            continue
        assert isinstance(raw, str)
        words = tuple(w for w in (_bare(part) for part in _WORDS.split(raw)) if w)
        out[key] = _Name(raw.strip(), key, strip_accents(key), words)
    return tuple(out.values())


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _person(record: Record) -> _Person:
    fields = record["fields"]
    kind = "pupil" if record["type"] in PUPIL_LIKE else "staff" if record["type"] == "staff" else ""
    exact: set[tuple[str, ...]] = {("upn", k) for k in upn_keys(record)}
    exact |= {("name and dob", *k) for k in name_dob_keys(record)}
    exact |= {("staff name", *k) for k in staff_name_keys(record)}
    exact |= {("e-mail and surname", *k) for k in staff_email_keys(record)}
    dob = fields.get("dob")
    return _Person(
        record=record,
        kind=kind,
        forenames=_names(fields, "forename", "legal_forename"),
        surnames=_names(fields, "surname", "legal_surname"),
        dob=_date(dob),
        dob_text="" if dob is None else str(dob),
        upn=upn(record),
        exact=frozenset(exact),
    )


# -- comparing two -----------------------------------------------------------------------------

# Each comparison gives the closest agreement it finds as (rank, reason): rank 0 is the same
# (no reason), higher ranks are near; None is neither.
_Found = tuple[int, str | None] | None
_Near = tuple[int, str]  # a near agreement: its rank and reason


def _forename(a: _Person, b: _Person) -> _Found:
    best: _Found = None
    for x in a.forenames:
        for y in b.forenames:
            if x.key == y.key:
                return 0, None
            if x.bare == y.bare:
                found: _Near = 1, f"forename {x.raw} / {y.raw} (only the accents differ)"
            elif _variants(x.bare, y.bare):
                found = 2, f"forename {x.raw} / {y.raw} (a common variant)"
            else:
                continue
            if best is None or found[0] < best[0]:
                best = found
    return best


def one_edit_apart(a: str, b: str) -> bool:
    """Damerau distance 1 (one letter changed, added, dropped, or two neighbours swapped)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) != 2:
            return len(diffs) == 1
        i, j = diffs
        return j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long[k]), len(short))
    return short[i:] == long[i + 1 :]


def _surname(a: _Person, b: _Person) -> _Found:
    best: _Found = None
    for x in a.surnames:
        for y in b.surnames:
            if x.key == y.key:
                return 0, None
            if x.bare == y.bare:
                found: _Near = 1, f"surname {x.raw} / {y.raw} (only the accents differ)"
            elif min(len(x.bare), len(y.bare)) >= 3 and one_edit_apart(x.bare, y.bare):
                found = 2, f"surname {x.raw} / {y.raw} (one letter apart)"
            elif len(x.words) > 1 and sorted(x.words) == sorted(y.words):
                found = 3, f"surname words swapped ({x.raw} / {y.raw})"
            else:
                continue
            if best is None or found[0] < best[0]:
                best = found
    return best


def _swapped(day: date) -> date | None:
    """The date with day and month swapped, when that is another date (4 March for 3 April)."""
    if day.day == day.month or day.day > 12:
        return None
    return day.replace(month=day.day, day=day.month)


def _dob(a: _Person, b: _Person) -> _Found:
    if a.dob is None or b.dob is None:
        return None  # with no date of birth to agree, a name alike is not enough
    if a.dob == b.dob:
        return 0, None
    if abs((a.dob - b.dob).days) == 1:
        return 1, f"date of birth {a.dob_text} / {b.dob_text} (a day apart)"
    if _swapped(a.dob) == b.dob:
        return 1, f"date of birth day and month swapped ({a.dob_text} / {b.dob_text})"
    return None


def _reasons(a: _Person, b: _Person) -> list[str]:
    if not a.kind or a.kind != b.kind or a.exact & b.exact:
        return []
    if a.kind == "pupil" and a.upn and b.upn:
        return []  # differing UPNs say two children (equal ones were exact)
    found = [_forename(a, b), _surname(a, b)]
    if a.kind == "pupil":
        found.append(_dob(a, b))
    if any(f is None for f in found):
        return []
    return [reason for f in found if f is not None and (reason := f[1]) is not None]


def near_reasons(bromcom: Record, parentpay: Record) -> list[str]:
    """Why two records that are not an exact match may be one person; [] when they are not near.

    Exact is what engine/match/people.py matches on: the same UPN, or the same name and date of
    birth; for staff, the same name, or the same e-mail and surname. Near, for pupils and
    pre-admissions (either may be the other: a pre-admission starts school): the forename the
    same or a common variant (or differing only in accents), the surname the same, one letter
    apart (on names of 3 letters or more) or its words swapped, and the date of birth the same,
    a day apart or with day and month swapped; at least one of them near, not the same, and no
    two differing UPNs. For staff the same without the date of birth. Each reason names the
    two values in the order given: `bromcom`'s first.
    """
    return _reasons(_person(bromcom), _person(parentpay))


# -- many --------------------------------------------------------------------------------------


class NearIndex:
    """Candidates indexed for `find_near`: by date of birth (pupils), by forename group (staff).

    Build it once and pass it as `find_near`'s candidates to compare many records with the
    same candidates: each look-up then reads the few candidates born the day before, the day,
    the day after or on the swapped date (pupils) or sharing a forename group (staff).
    """

    def __init__(self, candidates: Iterable[Record]) -> None:
        self._people = [_person(r) for r in candidates]
        self._by_dob: dict[date, list[_Person]] = defaultdict(list)
        self._by_forename: dict[tuple[str, Any], list[_Person]] = defaultdict(list)
        for p in self._people:
            if p.kind == "pupil" and p.dob is not None:
                self._by_dob[p.dob].append(p)
            elif p.kind == "staff":
                for key in _forename_buckets(p):
                    self._by_forename[key].append(p)

    def __iter__(self) -> Iterator[Record]:
        return (p.record for p in self._people)

    def __len__(self) -> int:
        return len(self._people)

    def find(self, record: Record) -> list[tuple[Record, list[str]]]:
        """The candidates near `record`, in mis_id order, each with `near_reasons(record, it)`."""
        me = _person(record)
        if me.kind == "pupil" and me.dob is not None:
            pool = [p for day in _near_days(me.dob) for p in self._by_dob.get(day, ())]
        elif me.kind == "staff":
            pool = [p for key in _forename_buckets(me) for p in self._by_forename.get(key, ())]
        else:
            return []
        seen: set[int] = set()
        out = []
        for other in pool:
            if id(other) in seen:
                continue
            seen.add(id(other))
            if reasons := _reasons(me, other):
                out.append((other.record, reasons))
        out.sort(key=lambda pair: natural_key(pair[0]["mis_id"]))
        return out


def _near_days(day: date) -> set[date]:
    """The dates of birth a pupil born on `day` may have been typed as: itself included."""
    days = {day, day - timedelta(days=1), day + timedelta(days=1)}
    if (swapped := _swapped(day)) is not None:
        days.add(swapped)
    return days


def _forename_buckets(p: _Person) -> set[tuple[str, Any]]:
    """Keys two staff share when their forenames are the same (accents aside) or variants."""
    groups = forename_groups()
    keys: set[tuple[str, Any]] = set()
    for name in p.forenames:
        keys.add(("name", name.bare))
        keys |= {("group", g) for g in groups.get(name.bare, ())}
    return keys


def find_near(record: Record, candidates: Iterable[Record]) -> list[tuple[Record, list[str]]]:
    """The candidates near `record` (not exact matches), with `near_reasons(record, candidate)`.

    `candidates` may be a `NearIndex`, built once, when many records are compared with the same
    candidates; from any other iterable only those born on a near day (pupils) or of the same
    type (staff) are prepared, for this one call.
    """
    if isinstance(candidates, NearIndex):
        return candidates.find(record)
    me = _person(record)
    if me.kind == "pupil" and me.dob is not None:
        days = {str(day) for day in _near_days(me.dob)}
        pool = [
            c
            for c in candidates
            if c["type"] in PUPIL_LIKE and _text(c["fields"].get("dob")) in days
        ]
    else:
        pool = [c for c in candidates if c["type"] == "staff"] if me.kind == "staff" else []
    return NearIndex(pool).find(record)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)
