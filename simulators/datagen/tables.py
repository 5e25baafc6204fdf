"""The 21 Bromcom entities, their columns, and the simulator's folder format they are written in.

    DATA/<org_id>/account.json   {"username": ..., "password": ..., "permitted": [entity, ...]}
    DATA/<org_id>/<Entity>.json  {"columns": [[name, xs type], ...], "rows": [{...}, ...]}

Columns follow docs/bromcom.md ("Columns bromsync assumes"), in its order. A NULL is written as a
missing key, as a real DataSet leaves a NULL column out of its row. Files are byte-stable: rows
sorted by the entity's key, one row per line (readable diffs of the frozen fixture), UTF-8
without escaping, "\n" line ends.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

_FLAGS = frozenset(
    {
        "DataProcessingConsent",
        "ParentalResponsibility",
        "LivesWithStudent",
        "ReceivesCorrespondence",
        "CourtOrder",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
    }
)
_INTS = frozenset({"Priority", "URN"})


def _type_of(column: str) -> str:
    # docs/bromcom.md: IDs are xs:int, dates xs:dateTime, flags xs:boolean; everything else
    # (AdmissionNumber and UPN included: leading zeros matter) is a string.
    if column in _FLAGS:
        return "boolean"
    if column.endswith("ID") or column in _INTS:
        return "int"
    if "Date" in column:
        return "dateTime"
    return "string"


def _columns(spec: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, _type_of(name)) for name in spec.split())


_DATES = "StartDate EndDate"
ENTITY_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "Students": _columns(
        "StudentID PersonID UPN AdmissionNumber FirstName MiddleName LastName PreferredFirstName "
        "PreferredLastName DateOfBirth Gender YearGroup TutorGroup House StartDate EndDate "
        "EnrolmentStatus DataProcessingConsent"
    ),
    "PreAdmissionStudents": _columns(
        "StudentID PersonID UPN AdmissionNumber FirstName LastName PreferredFirstName "
        "PreferredLastName DateOfBirth Gender YearGroup AdmissionDate ApplicationStatus "
        "DataProcessingConsent"
    ),
    "Staff": _columns(
        "StaffID PersonID Title FirstName MiddleName LastName PreferredFirstName "
        "PreferredLastName StaffCode JobTitle StartDate EndDate DataProcessingConsent"
    ),
    "People": _columns(
        "PersonID Title FirstName MiddleName LastName PreferredFirstName PreferredLastName "
        "DateOfBirth Gender DataProcessingConsent"
    ),
    "StudentContacts": _columns(
        "StudentID ContactPersonID Relationship ParentalResponsibility Priority LivesWithStudent "
        f"ReceivesCorrespondence CourtOrder {_DATES}"
    ),
    "Emails": _columns("PersonID EmailAddress EmailTypeDescription Priority"),
    "PersonCommunications": _columns("PersonID CommunicationTypeDescription Value Priority"),
    "StudentMeals": _columns(f"StudentID FSMType {_DATES}"),
    "StudentMealPatterns": _columns(
        f"StudentID MealTypeDescription Monday Tuesday Wednesday Thursday Friday {_DATES}"
    ),
    "PersonMedicalConditions": _columns(f"PersonID MedicalConditionDescription Notes {_DATES}"),
    "StudentEnrolments": _columns(f"StudentID EnrolmentStatus {_DATES}"),
    "Collections": _columns(
        f"CollectionID CollectionName CollectionDescription CollectionTypeName {_DATES}"
    ),
    "CollectionAssociates": _columns(f"PersonID CollectionID {_DATES}"),
    "CollectionExecutives": _columns(
        f"StaffID CollectionID CollectionRoleTypeDescription {_DATES}"
    ),
    "CollectionExecutivesRoleTypes": _columns("CollectionRoleTypeID CollectionRoleTypeDescription"),
    "SubjectClasses": _columns(f"ClassID ClassDescription SubjectDescription {_DATES}"),
    "Timetable": _columns(
        "ClassID ClassName StaffID PeriodStartDate PeriodEndDate DayOfWeek PeriodName LocationName"
    ),
    "EmployeeContacts": _columns("StaffID ContactPersonID Relationship Priority"),
    "Nationalities": _columns("PersonID NationalityDescription"),
    "PersonAddress": _columns(
        f"PersonID AddressTypeDescription HouseNumber Street Town PostCode {_DATES}"
    ),
    "School": _columns("SchoolID SchoolName URN LAEstab Phase"),
}
ENTITIES: tuple[str, ...] = tuple(ENTITY_COLUMNS)

# Other integrators' spellings (docs/bromcom.md); accepted in `permitted` besides any case variant.
_ALIASES = {"personaddresses", "schools", "timetable"}

# Rows are sorted by these columns so that a file never depends on generation order.
_SORT_KEYS: dict[str, tuple[str, ...]] = {
    "Students": ("StudentID",),
    "PreAdmissionStudents": ("StudentID",),
    "Staff": ("StaffID",),
    "People": ("PersonID",),
    "StudentContacts": ("StudentID", "Priority", "ContactPersonID"),
    "Emails": ("PersonID", "Priority", "EmailAddress"),
    "PersonCommunications": ("PersonID", "CommunicationTypeDescription", "Priority", "Value"),
    "StudentMeals": ("StudentID", "StartDate", "EndDate"),
    "StudentMealPatterns": ("StudentID", "StartDate", "MealTypeDescription"),
    "PersonMedicalConditions": ("PersonID", "MedicalConditionDescription", "StartDate"),
    "StudentEnrolments": ("StudentID", "StartDate", "EnrolmentStatus"),
    "Collections": ("CollectionID",),
    "CollectionAssociates": ("PersonID", "CollectionID", "StartDate"),
    "CollectionExecutives": ("StaffID", "CollectionID", "CollectionRoleTypeDescription"),
    "CollectionExecutivesRoleTypes": ("CollectionRoleTypeID",),
    "SubjectClasses": ("ClassID",),
    "Timetable": ("ClassID", "PeriodStartDate", "StaffID"),
    "EmployeeContacts": ("StaffID", "Priority", "ContactPersonID"),
    "Nationalities": ("PersonID", "NationalityDescription"),
    "PersonAddress": ("PersonID", "StartDate", "AddressTypeDescription", "Street"),
    "School": ("SchoolID",),
}

Row = dict[str, Any]


def check_permitted(permitted: Iterable[str] | None) -> list[str]:
    """The account's permitted entity list; None means all 21. Unknown names are refused."""
    if permitted is None:
        return list(ENTITIES)
    names = list(permitted)
    known = {e.lower() for e in ENTITIES} | _ALIASES
    unknown = [n for n in names if not isinstance(n, str) or n.lower() not in known]
    if unknown:
        raise ValueError(f"unknown Bromcom entity name(s) in permitted: {unknown!r}")
    return names


def _cell(entity: str, column: str, xs_type: str, value: Any) -> Any:
    ok: bool
    if xs_type == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif xs_type == "boolean":
        ok = isinstance(value, bool)
    elif xs_type == "string":
        ok = isinstance(value, str)
    elif isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")  # naive UK wall-clock, no offset
    elif isinstance(value, dt.date):
        return value.isoformat()
    else:
        ok = False
    if not ok:
        raise ValueError(f"{entity}.{column}: {value!r} is not an xs:{xs_type}")
    return value


def _sort_key(entity: str, row: Row) -> tuple[Any, ...]:
    # None sorts first; `(True, 0)` never meets a real value in the comparison's second slot.
    return tuple(
        (False, row[c]) if row.get(c) is not None else (True, 0) for c in _SORT_KEYS[entity]
    )


def dump_entity(entity: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """One entity file's text: columns, then the rows in key order with NULLs left out."""
    columns = ENTITY_COLUMNS[entity]
    types = dict(columns)
    ordered = sorted((dict(r) for r in rows), key=lambda r: _sort_key(entity, r))
    lines = []
    for row in ordered:
        unknown = [k for k in row if k not in types]
        if unknown:
            raise ValueError(f"{entity}: column(s) {unknown!r} are not in docs/bromcom.md's table")
        cells = {
            name: _cell(entity, name, xs, row[name])
            for name, xs in columns
            if row.get(name) is not None
        }
        lines.append(json.dumps(cells, ensure_ascii=False, separators=(",", ":")))
    head = json.dumps([list(c) for c in columns], separators=(",", ":"))
    body = "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"
    return '{"columns":' + head + ',"rows":' + body + "}\n"


def write_org(
    data_dir: Path,
    org_id: int,
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    username: str,
    password: str,
    permitted: Iterable[str] | None = None,
) -> dict[str, int]:
    """Write DATA/<org_id>/: account.json and all 21 entity files; returns rows per entity."""
    extra = [name for name in tables if name not in ENTITY_COLUMNS]
    if extra:
        raise ValueError(f"not Bromcom entities: {extra!r}")
    folder = Path(data_dir) / str(org_id)
    folder.mkdir(parents=True, exist_ok=True)
    account = {"username": username, "password": password, "permitted": check_permitted(permitted)}
    _write(folder / "account.json", json.dumps(account, ensure_ascii=False, indent=2) + "\n")
    counts: dict[str, int] = {}
    for entity in ENTITIES:
        rows = tables.get(entity, ())
        _write(folder / f"{entity}.json", dump_entity(entity, rows))
        counts[entity] = len(rows)
    return counts


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
