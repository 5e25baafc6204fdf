"""Shared helpers of the rule tests: Bromcom rows in, ParentPay records out.

Rows are written as Bromcom writes them, through the Bromcom simulator's DataSet writer (a date
of birth in summer reads `2019-06-02T00:00:00+01:00`), and read back by the engine's own
DataSet reader, so each rule is tested on the values the engine really sees. Then the shipped
mapping turns them into records, and (for the lifecycle) engine/plan/diff.py into operations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.checks.packs import shipped_checks
from engine.checks.run import CheckHit
from engine.pipeline import check_records
from engine.plan.diff import Change, diff
from engine.records import Record, natural_key
from engine.sources import Table
from engine.sources.dataset import read_dataset
from engine.state.store import State
from engine.transform.functions import MappingFunctions
from engine.transform.mapping import load_mappings
from engine.transform.transform import transform
from simulators.bromcom.dataset import dataset, render_cells
from simulators.datagen import ENTITY_COLUMNS
from tests.conftest import FIXTURE_SETTINGS

TODAY = dt.date(2026, 11, 28)  # the fixture school's today: a Saturday in the 2026/27 year
YESTERDAY, TOMORROW = "2026-11-27", "2026-11-29"
OPTIONS = ("pupils", "staff", "preadmissions")

SETTINGS = FIXTURE_SETTINGS


# -- Bromcom rows ---------------------------------------------------------------------------


def student(sid: int, **over: Any) -> dict[str, Any]:
    """A Year 1 pupil on roll since September 2025, single registration, with consent."""
    return {
        "StudentID": sid, "PersonID": sid, "UPN": f"A{sid:012d}", "AdmissionNumber": f"{sid:04d}",
        "FirstName": "Anna", "LastName": "Smith", "DateOfBirth": "2020-03-01", "Gender": "F",
        "YearGroup": "1", "TutorGroup": "1A", "StartDate": "2025-09-01", "EnrolmentStatus": "C",
        "DataProcessingConsent": True, **over,
    }  # fmt: skip


def preadmission(sid: int, **over: Any) -> dict[str, Any]:
    """An Accepted Reception applicant joining in September 2027, with consent."""
    return {
        "StudentID": sid, "PersonID": sid, "UPN": f"B{sid:012d}", "AdmissionNumber": None,
        "FirstName": "Freya", "LastName": "Morgan", "DateOfBirth": "2023-03-15", "Gender": "F",
        "YearGroup": "R", "AdmissionDate": "2027-09-01", "ApplicationStatus": "Accepted",
        "DataProcessingConsent": True, **over,
    }  # fmt: skip


def staff(sid: int, **over: Any) -> dict[str, Any]:
    """A current class teacher with consent."""
    return {
        "StaffID": sid, "PersonID": sid, "Title": "Mrs", "FirstName": "Sarah", "LastName": "Bennett",
        "StaffCode": "SB", "JobTitle": "Class Teacher", "StartDate": "2015-09-01",
        "DataProcessingConsent": True, **over,
    }  # fmt: skip


def contact(sid: int, pid: int, priority: int | None, **over: Any) -> dict[str, Any]:
    """A current link with parental responsibility and no court order."""
    return {
        "StudentID": sid, "ContactPersonID": pid, "Relationship": "Mother", "Priority": priority,
        "ParentalResponsibility": True, "CourtOrder": False, **over,
    }  # fmt: skip


def person(pid: int, consent: bool | None = True, **over: Any) -> dict[str, Any]:
    return {"PersonID": pid, "FirstName": "Pat", "LastName": "Parent",
            "DataProcessingConsent": consent, **over}  # fmt: skip


def email(pid: int, address: str, priority: int | None = 1, kind: str = "Home") -> dict[str, Any]:
    return {
        "PersonID": pid,
        "EmailAddress": address,
        "EmailTypeDescription": kind,
        "Priority": priority,
    }


def phone(pid: int, value: str, priority: int | None = 1, kind: str = "Mobile") -> dict[str, Any]:
    return {
        "PersonID": pid,
        "CommunicationTypeDescription": kind,
        "Value": value,
        "Priority": priority,
    }


def meal(sid: int, start: str | None, end: str | None = None) -> dict[str, Any]:
    return {"StudentID": sid, "FSMType": "FSM", "StartDate": start, "EndDate": end}


def condition(
    pid: int, description: str, start: str | None = None, end: str | None = None
) -> dict[str, Any]:
    return {
        "PersonID": pid,
        "MedicalConditionDescription": description,
        "StartDate": start,
        "EndDate": end,
    }


# -- through a real DataSet -----------------------------------------------------------------


def _typed(entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
    types = dict(ENTITY_COLUMNS[entity])
    unknown = sorted(set(row) - set(types))
    assert not unknown, f"{entity} has no column {unknown}: fix the test row"
    return {
        name: dt.datetime.fromisoformat(value)
        if types[name] == "dateTime" and isinstance(value, str)
        else value
        for name, value in row.items()
    }


def as_bromcom_sends(entity: str, rows: Iterable[Mapping[str, Any]]) -> Table:
    """`rows` written as a Bromcom DataSet (dates with the UK offset) and read by the engine."""
    columns = ENTITY_COLUMNS[entity]
    xml = dataset(columns, [render_cells(_typed(entity, row), columns) for row in rows])
    read_columns, read_rows = read_dataset(f"<Result>{xml}</Result>".encode())
    return Table(entity, read_columns, read_rows)


def bromcom(**entities: Iterable[Mapping[str, Any]]) -> dict[str, Table]:
    """Every entity the mappings may read: the rows given, the rest empty."""
    unknown = sorted(set(entities) - set(ENTITY_COLUMNS))
    assert not unknown, f"no Bromcom entity {unknown}"
    return {name: as_bromcom_sends(name, entities.get(name, ())) for name in ENTITY_COLUMNS}


# -- mapping and diff -----------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One upload type's outcome, as engine/pipeline.py computes it: mapped, then checked."""

    type: str
    mapped: list[Record]  # what the mapping made of the rows
    records: list[Record]  # what may be planned: not held back by an error check
    held: list[str]
    checks: list[CheckHit]  # this type's check hits
    left_out: dict[str, int]
    no_consent: int

    @property
    def errors(self) -> list[CheckHit]:
        """The hits that hold records back (warnings such as "no payer" only report)."""
        return [hit for hit in self.checks if hit.severity == "error"]


def run_all(
    data: Mapping[str, Table],
    options: Iterable[str] = OPTIONS,
    *,
    today: dt.date = TODAY,
    **settings: Any,
) -> list[Result]:
    """The shipped mappings of `options`, then the SQL checks, on a throwaway in-memory state."""
    merged = {**SETTINGS, **settings}
    functions = MappingFunctions(today=today, settings=merged)
    done = [
        transform(
            mapping, data, functions=functions, consent_required=merged["lawful_basis"] == "consent"
        )
        for mapping in load_mappings(list(options))
    ]
    with State(Path(":memory:")) as state:
        state.start_run("rules", urn=1, school="rules", command="test", today=today)
        for table in data.values():
            state.save_raw("rules", table, 0.0)
        checked = check_records(state, "rules", done, merged, today, shipped_checks())
    return [
        Result(
            t.type,
            t.records,
            [r for r in t.records if r["mis_id"] not in checked.held],
            sorted(
                (r["mis_id"] for r in t.records if r["mis_id"] in checked.held), key=natural_key
            ),
            [hit for hit in checked.hits if hit.type == t.type],
            t.left_out,
            t.no_consent,
        )
        for t in done
    ]


def run(
    option: str, data: Mapping[str, Table], *, today: dt.date = TODAY, **settings: Any
) -> Result:
    """The shipped mapping of `option` applied, and checked, as engine/pipeline.py does it."""
    [result] = run_all(data, [option], today=today, **settings)
    return result


def records(option: str, data: Mapping[str, Table], **settings: Any) -> dict[str, dict[str, Any]]:
    """mis_id -> fields of every record the mapping makes (checks may still hold some back)."""
    return {r["mis_id"]: r["fields"] for r in run(option, data, **settings).mapped}


def record(option: str, data: Mapping[str, Table], **settings: Any) -> dict[str, Any]:
    """The fields of the one record the mapping uploads."""
    found = records(option, data, **settings)
    assert len(found) == 1, f"expected one {option} record, got {sorted(found)}"
    return next(iter(found.values()))


def uploaded(
    data: Mapping[str, Table], *, archived: Iterable[str] = (), **settings: Any
) -> dict[str, Record]:
    """ParentPay's acknowledged state after uploading `data` (State.uploaded's shape)."""
    gone = set(archived)
    return {
        r["mis_id"]: {**r, "status": "archived" if r["mis_id"] in gone else "active"}
        for t in run_all(data, **settings)
        for r in t.records
    }


def changes(
    data: Mapping[str, Table], baseline: Mapping[str, Record], **settings: Any
) -> list[Change]:
    """The plan's changes for `data` against `baseline`, as engine/pipeline.py computes them."""
    done = run_all(data, **settings)
    found, _ = diff(
        [r for t in done for r in t.records],
        baseline,
        types={t.type for t in done},
        held={m for t in done for m in t.held},
    )
    return found


def ops(
    data: Mapping[str, Table], baseline: Mapping[str, Record], **settings: Any
) -> list[tuple[str, str, str]]:
    return [(c.op, c.type, c.mis_id) for c in changes(data, baseline, **settings)]
