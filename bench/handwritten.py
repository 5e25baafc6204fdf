"""A minimal hand-written Bromcom -> ParentPay sync: the baseline bromsync's speed is judged by.

What a competent engineer would write for one school in an afternoon, with none of bromsync's
generality: a raw HTTP SOAP request per entity, lxml to dicts, the three mappings written out
as plain Python with dict joins, a diff against a JSON snapshot of what ParentPay acknowledged,
and the same batched POSTs (500 operations, an Idempotency-Key, the snapshot saved after each
acknowledged batch). It runs no checks, keeps no history and explains nothing; it exists so
that `bench/bench_baseline.py` can print how far bromsync is from it.

It builds the same records as the engine's transform, field for field, from the same answers
(`tests/test_bench_baseline.py` holds it to that on generated schools), so the comparison is
of the same work.

    python bench/handwritten.py SCHOOL_FILE SNAPSHOT.json     # sync once
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import requests
import yaml
from lxml import etree

XS = "{http://www.w3.org/2001/XMLSchema}"
DIFFGR = "{urn:schemas-microsoft-com:xml-diffgram-v1}"
BATCH = 500

Row = dict[str, Any]

_ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    '<getEntityDataBySchoolID xmlns="http://tempuri.org/"><schoolID>{org}</schoolID>'
    "<entityName>{entity}</entityName><entityFilter>{where}</entityFilter>"
    "<username>{user}</username><password>{password}</password>"
    "</getEntityDataBySchoolID></soap:Body></soap:Envelope>"
)


# -- fetch and parse --------------------------------------------------------------------------


def fetch(session: requests.Session, school: dict[str, Any], entity: str, where: str = "") -> bytes:
    bromcom = school["bromcom"]
    body = _ENVELOPE.format(
        org=bromcom["org_id"], entity=escape(entity), where=escape(where),
        user=escape(bromcom["username"]), password=escape(os.environ[bromcom["password_env"]]),
    )  # fmt: skip
    response = session.post(
        bromcom["url"],
        data=body.encode("utf-8"),
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '"http://tempuri.org/getEntityDataBySchoolID"',
        },
        timeout=(10, 300),
    )
    response.raise_for_status()
    return response.content


def parse(body: bytes) -> list[Row]:
    """The rows of a DataSet answer: ints and booleans typed, dateTimes as written, offset cut."""
    root = etree.fromstring(body, etree.XMLParser(huge_tree=True, resolve_entities=False))
    types = {
        el.get("name"): (el.get("type") or "").rpartition(":")[2]
        for el in root.iter(f"{XS}element")
        if el.get("type")
    }
    diffgram = next(root.iter(f"{DIFFGR}diffgram"))
    rows: list[Row] = []
    for dataset in diffgram:
        for table in dataset:
            row: Row = {}
            for cell in table:
                name = etree.QName(cell).localname
                text = cell.text or ""
                kind = types.get(name)
                if kind == "int":
                    row[name] = int(text)
                elif kind == "boolean":
                    row[name] = text.strip() in ("true", "1")
                elif kind == "dateTime":
                    row[name] = text.strip()[:19]  # the wall-clock time as written
                else:
                    row[name] = text
            rows.append(row)
    return rows


# -- the three mappings, by hand ----------------------------------------------------------


def _by(rows: Iterable[Row], key: str, order: str | None = None) -> dict[Any, list[Row]]:
    out: dict[Any, list[Row]] = defaultdict(list)
    for row in rows:
        out[row.get(key)].append(row)
    if order:
        for group in out.values():
            group.sort(key=lambda r: (r.get(order) is None, r.get(order) or 0))
    return out


def _day(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)[:10]


class Mapper:
    """mappings/pupils.yaml, staff.yaml and preadmissions.yaml, written out in Python."""

    def __init__(self, school: dict[str, Any], data: dict[str, list[Row]], today: dt.date) -> None:
        self.today = today.isoformat()
        upload = school["upload"]
        self.consent = upload["lawful_basis"] == "consent"
        self.statuses = {s.casefold() for s in upload.get("include_enrolment_statuses", ["C", "M"])}
        self.prefix = upload.get("staff_id_prefix", "")
        self.aliases = {str(k): str(v) for k, v in school.get("year_code_aliases", {}).items()}
        self.allow = {a.casefold() for a in school.get("dietary", {}).get("allow", [])}
        self.data = data
        get = data.get
        self.contacts = _by(get("StudentContacts", []), "StudentID", "Priority")
        self.people = {r.get("PersonID"): r for r in reversed(get("People", []))}
        self.emails = _by(get("Emails", []), "PersonID", "Priority")
        self.phones = _by(get("PersonCommunications", []), "PersonID", "Priority")
        self.meals = _by(get("StudentMeals", []), "StudentID", "StartDate")
        self.conditions = _by(get("PersonMedicalConditions", []), "PersonID", "MedicalConditionDescription")  # fmt: skip
        self.students = {r.get("StudentID"): r for r in reversed(get("Students", []))}

    def current(self, start: Any, end: Any) -> bool:
        s, e = _day(start), _day(end)
        return (s is None or s <= self.today) and (e is None or e >= self.today)

    def _mobile(self, person: Any) -> Any:
        for phone in self.phones.get(person, []) if person is not None else []:
            if phone.get("CommunicationTypeDescription") == "Mobile":
                return phone.get("Value")
        return None

    def _email(self, person: Any) -> Any:
        found = self.emails.get(person) if person is not None else None
        return found[0].get("EmailAddress") if found else None

    def _child(self, row: Row) -> dict[str, Any]:
        """The fields pupils and pre-admissions share."""
        payer = None
        for c in (
            self.contacts.get(row.get("StudentID"), []) if row.get("StudentID") is not None else []
        ):
            if not (
                self.current(c.get("StartDate"), c.get("EndDate"))
                and c.get("ParentalResponsibility")
            ):
                continue
            if c.get("CourtOrder"):
                continue
            if self.consent and not (self.people.get(c.get("ContactPersonID")) or {}).get(
                "DataProcessingConsent"
            ):
                continue
            payer = c
            break
        meal = next(
            (
                m
                for m in self.meals.get(row.get("StudentID"), [])
                if self.current(m.get("StartDate"), m.get("EndDate"))
            ),
            None,
        )
        dietary = sorted(
            {
                c["MedicalConditionDescription"]
                for c in self.conditions.get(row.get("PersonID"), [])
                if row.get("PersonID") is not None
                if self.current(c.get("StartDate"), c.get("EndDate"))
                and isinstance(c.get("MedicalConditionDescription"), str)
                and c["MedicalConditionDescription"].casefold() in self.allow
            }
        )
        year = row.get("YearGroup")
        person = payer.get("ContactPersonID") if payer else None
        return {
            "upn": row.get("UPN"),
            "admission_number": row.get("AdmissionNumber"),
            "forename": row.get("PreferredFirstName") or row.get("FirstName"),
            "surname": row.get("PreferredLastName") or row.get("LastName"),
            "legal_forename": row.get("FirstName"),
            "legal_surname": row.get("LastName"),
            "dob": _day(row.get("DateOfBirth")),
            "gender": row.get("Gender"),
            "year_code": None if year is None else self.aliases.get(year, year),
            "fsm": meal is not None,
            "fsm_start": _day(meal.get("StartDate")) if meal else None,
            "fsm_end": _day(meal.get("EndDate")) if meal else None,
            "payer_email": self._email(person),
            "payer_mobile": self._mobile(person),
            "dietary": dietary,
        }

    def pupils(self) -> list[dict[str, Any]]:
        out = []
        for row in self.data.get("Students", []):
            if not self.current(row.get("StartDate"), row.get("EndDate")):
                continue
            status = row.get("EnrolmentStatus")
            if not (isinstance(status, str) and status.casefold() in self.statuses):
                continue
            if self.consent and row.get("DataProcessingConsent") is not True:
                continue
            fields = self._child(row)
            fields["reg_group"] = row.get("TutorGroup")
            out.append({"mis_id": str(row["StudentID"]), "type": "pupil", "fields": fields})
        return out

    def preadmissions(self) -> list[dict[str, Any]]:
        out = []
        for row in self.data.get("PreAdmissionStudents", []):
            pupil = (
                self.students.get(row.get("StudentID"))
                if row.get("StudentID") is not None
                else None
            )
            status = row.get("ApplicationStatus")
            if not (status == "Accepted" or (status == "Admitted" and pupil is not None)):
                continue
            if pupil is not None and self.current(pupil.get("StartDate"), None):
                continue
            if self.consent and row.get("DataProcessingConsent") is not True:
                continue
            fields = self._child(row)
            fields["admission_date"] = _day(row.get("AdmissionDate"))
            out.append({"mis_id": str(row["StudentID"]), "type": "preadmission", "fields": fields})
        return out

    def staff(self) -> list[dict[str, Any]]:
        out = []
        for row in self.data.get("Staff", []):
            if not self.current(row.get("StartDate"), row.get("EndDate")):
                continue
            if self.consent and row.get("DataProcessingConsent") is not True:
                continue
            person = row.get("PersonID")
            fields = {
                "title": row.get("Title"),
                "forename": row.get("PreferredFirstName") or row.get("FirstName"),
                "surname": row.get("PreferredLastName") or row.get("LastName"),
                "email": self._email(person),
                "mobile": self._mobile(person),
            }
            out.append(
                {"mis_id": self.prefix + str(row["StaffID"]), "type": "staff", "fields": fields}
            )
        return out


ENTITIES = {
    "pupils": ["Students", "StudentContacts", "People", "Emails", "PersonCommunications",
               "StudentMeals", "PersonMedicalConditions"],
    "staff": ["Staff", "Emails", "PersonCommunications"],
    "preadmissions": ["PreAdmissionStudents", "StudentContacts", "People", "Emails",
                      "PersonCommunications", "StudentMeals", "PersonMedicalConditions", "Students"],
}  # fmt: skip


def build_records(
    school: dict[str, Any], data: dict[str, list[Row]], today: dt.date
) -> list[dict[str, Any]]:
    mapper = Mapper(school, data, today)
    out: list[dict[str, Any]] = []
    for option in school["upload"]["options"]:
        out += {
            "pupils": mapper.pupils,
            "staff": mapper.staff,
            "preadmissions": mapper.preadmissions,
        }[option]()
    return out


# -- diff against the snapshot, push in batches ------------------------------------------


def diff(
    records: list[dict[str, Any]], snapshot: dict[str, dict[str, Any]], types: set[str]
) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    seen = set()
    for r in records:
        seen.add(r["mis_id"])
        old = snapshot.get(r["mis_id"])
        if old is None:
            ops.append(
                {"op": "create", "type": r["type"], "mis_id": r["mis_id"], "fields": r["fields"]}
            )
            continue
        if old["type"] == "preadmission" and r["type"] == "pupil":
            ops.append(
                {"op": "convert", "type": "pupil", "mis_id": r["mis_id"], "fields": r["fields"]}
            )
            continue
        if old["status"] == "archived":
            ops.append({"op": "restore", "type": r["type"], "mis_id": r["mis_id"], "fields": {}})
        changed = {k: v for k, v in r["fields"].items() if old["fields"].get(k) != v}
        if changed:
            ops.append(
                {"op": "update", "type": r["type"], "mis_id": r["mis_id"], "fields": changed}
            )
    for mis_id, old in snapshot.items():
        if mis_id not in seen and old["status"] == "active" and old["type"] in types:
            ops.append({"op": "archive", "type": old["type"], "mis_id": mis_id, "fields": {}})
    return ops


def _apply(snapshot: dict[str, dict[str, Any]], op: dict[str, Any]) -> None:
    if op["op"] in ("create", "convert"):
        snapshot[op["mis_id"]] = {"type": op["type"], "status": "active", "fields": op["fields"]}
    elif op["op"] == "update":
        snapshot[op["mis_id"]]["fields"].update(op["fields"])
    else:
        snapshot[op["mis_id"]]["status"] = "archived" if op["op"] == "archive" else "active"


def push(session: requests.Session, url: str, token: str, site: int, ops: list[dict[str, Any]],
         snapshot: dict[str, dict[str, Any]], snapshot_path: Path) -> tuple[int, int]:  # fmt: skip
    applied = rejected = 0
    for start in range(0, len(ops), BATCH):
        batch = ops[start : start + BATCH]
        body = json.dumps({"operations": batch}, sort_keys=True).encode("utf-8")
        key = hashlib.sha256(body).hexdigest()
        response = session.post(
            f"{url}/v1/sites/{site}/uploads",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key,
                     "Content-Type": "application/json"},
            timeout=60,
        )  # fmt: skip
        response.raise_for_status()
        for result in response.json()["results"]:
            if result["status"] == "applied":
                _apply(snapshot, batch[result["index"]])
                applied += 1
            else:
                rejected += 1
        snapshot_path.write_text(
            json.dumps(snapshot), encoding="utf-8"
        )  # the batch's acknowledgement
    return applied, rejected


def fetch_all(session: requests.Session, school: dict[str, Any]) -> dict[str, list[Row]]:
    wanted = dict.fromkeys(e for option in school["upload"]["options"] for e in ENTITIES[option])
    return {entity: parse(fetch(session, school, entity)) for entity in wanted}


def sync(school_file: Path, snapshot_path: Path, today: dt.date) -> dict[str, int]:
    """One sync of one school: fetch, map, diff, push. What was sent, applied and rejected."""
    school = yaml.safe_load(school_file.read_text(encoding="utf-8"))
    session = requests.Session()
    data = fetch_all(session, school)
    records = build_records(school, data, today)
    snapshot = (
        json.loads(snapshot_path.read_text(encoding="utf-8")) if snapshot_path.exists() else {}
    )
    types = {
        {"pupils": "pupil", "staff": "staff", "preadmissions": "preadmission"}[o]
        for o in school["upload"]["options"]
    }
    ops = diff(records, snapshot, types)
    applied, rejected = push(
        session, os.environ["BROMSYNC_PARENTPAY_URL"].rstrip("/"), os.environ["BROMSYNC_PARENTPAY_TOKEN"],
        school["school"]["parentpay_site_id"], ops, snapshot, snapshot_path,
    )  # fmt: skip
    return {"records": len(records), "sent": len(ops), "applied": applied, "rejected": rejected}


if __name__ == "__main__":
    today = dt.date.fromisoformat(os.environ.get("BROMSYNC_TODAY") or dt.date.today().isoformat())
    print(json.dumps(sync(Path(sys.argv[1]), Path(sys.argv[2]), today)))
