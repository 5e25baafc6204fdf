"""The generator's `large` size (10,000 pupils, for benchmarks), and the other sizes pinned to
the bytes they generated before it was added: the demo's and the benchmarks' figures depend on
them, so a change to what they generate must be meant (then update DIGESTS below)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from simulators.datagen import SIZES, generate_school

TODAY = dt.date(2026, 11, 28)

# sha256 of every file of DATA/<org_id>/ (path and bytes, in path order), org_id 40001, seed 7.
DIGESTS = {
    "tiny": "fa40b2f117c78935",
    "primary": "29909ccfc08381d9",
    "secondary": "0e3bb9bc31f67a96",
}


def load(folder: Path, entity: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((folder / f"{entity}.json").read_text("utf-8"))["rows"]
    return rows


def digest(root: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        sha.update(str(path.relative_to(root).as_posix()).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


@pytest.mark.parametrize("size", sorted(DIGESTS))
def test_the_other_sizes_generate_what_they_always_did(tmp_path: Path, size: str) -> None:
    generate_school(
        tmp_path, org_id=40001, seed=7, size=size, today=TODAY, username="u", password="p"
    )
    assert digest(tmp_path) == DIGESTS[size], (
        f"the {size} school of seed 7 no longer generates the same files: the demo's and the "
        "benchmarks' figures move with it. If the change is meant, update DIGESTS."
    )


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One large school, generated once for the module, and how long it took."""
    root = tmp_path_factory.mktemp("large")
    started = time.perf_counter()
    summary = generate_school(
        root, org_id=40004, seed=7, size="large", today=TODAY, username="u", password="p"
    )
    return {"folder": root / "40004", "seconds": time.perf_counter() - started, "summary": summary}


def test_large_school_counts(large: dict[str, Any]) -> None:
    folder = large["folder"]
    students = load(folder, "Students")
    assert len(students) == sum(SIZES["large"].pupils.values()) == 10_000
    by_year = Counter(s["YearGroup"] for s in students)
    assert by_year == {**{str(n): 1650 for n in range(7, 12)}, "12": 900, "13": 850}
    today = TODAY.isoformat()
    on_roll = [s for s in students if s["StartDate"] <= today and "EndDate" not in s]
    assert len(on_roll) > 9_500
    # Pre-admissions and staff five times a 2,000-pupil secondary's (285-315 and 165-195).
    assert 1_425 <= len(load(folder, "PreAdmissionStudents")) <= 1_575
    staff = load(folder, "Staff")
    assert 5 * 165 <= len(staff) <= 5 * 195
    assert len({s["StaffCode"] for s in staff}) == len(staff)
    assert large["summary"].counts["Students"] == 10_000
    assert large["seconds"] < 60  # seconds, not minutes (about 9 s on a 2-core machine)


def test_large_school_groups_are_unique(large: dict[str, Any]) -> None:
    folder = large["folder"]
    collections = load(folder, "Collections")
    ids = [c["CollectionID"] for c in collections]
    assert len(ids) == len(set(ids))
    tutor_groups = [c for c in collections if c["CollectionTypeName"] == "TUTORGRP"]
    names = Counter(c["CollectionName"] for c in tutor_groups)
    assert [name for name, n in names.items() if n > 1] == []
    # Every pupil's TutorGroup is one of them, and each group has a tutor of its own.
    assert {s["TutorGroup"] for s in load(folder, "Students")} == set(names)
    tutor_ids = {c["CollectionID"] for c in tutor_groups}
    tutors = [
        e["StaffID"]
        for e in load(folder, "CollectionExecutives")
        if e["CollectionID"] in tutor_ids and e["CollectionRoleTypeDescription"] == "Main Tutor"
    ]
    assert len(tutors) == len(set(tutors)) == len(tutor_groups)
    # The sixth form has more classes of one subject than the eight letters A-H: 12I/Ma...
    classes = Counter(
        c["CollectionName"] for c in collections if c["CollectionTypeName"] == "CLASS"
    )
    assert [name for name, n in classes.items() if n > 1] == []
    assert "12I/Ma" in classes
    subject_classes = [r["ClassID"] for r in load(folder, "SubjectClasses")]
    assert len(subject_classes) == len(set(subject_classes))
