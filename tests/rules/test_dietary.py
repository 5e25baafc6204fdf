"""Dietary needs (docs/rules.md, Dietary and medical data): only conditions listed in the school's
dietary.allow (compared case-insensitively) and current today are sent, spelt as Bromcom spells
them, once each, sorted by code point. Nothing else medical leaves Bromcom."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rules.helpers import (
    TOMORROW,
    YESTERDAY,
    bromcom,
    condition,
    preadmission,
    record,
    staff,
    student,
)

# (PersonMedicalConditions of pupil 1002 as (description, start, end), dietary.allow, dietary sent)
CASES = [
    pytest.param([], ["Nut Allergy"], [], id="no conditions"),
    pytest.param([("Nut Allergy", "2020-05-01", None)], ["Nut Allergy"], ["Nut Allergy"], id="listed and current"),
    pytest.param([("Asthma", None, None)], ["Nut Allergy"], [], id="not listed: never sent"),
    pytest.param([("Nut Allergy", None, None), ("Asthma", None, None)], ["Nut Allergy"], ["Nut Allergy"],
                 id="only the listed one of two"),
    pytest.param([("nut allergy", None, None)], ["Nut Allergy"], ["nut allergy"],
                 id="matched ignoring case, sent as Bromcom spells it"),
    pytest.param([("Nut Allergy", None, None)], ["NUT ALLERGY"], ["Nut Allergy"], id="allow list in another case"),
    pytest.param([("Nut Allergy (mild)", None, None)], ["Nut Allergy"], [], id="exact names only, no substrings"),
    pytest.param([("Egg Allergy", "2017-06-10", "2023-03-01")], ["Egg Allergy"], [], id="ended condition"),
    pytest.param([("Egg Allergy", None, YESTERDAY)], ["Egg Allergy"], [], id="ended yesterday"),
    pytest.param([("Egg Allergy", None, "2026-11-28")], ["Egg Allergy"], ["Egg Allergy"], id="ends today"),
    pytest.param([("Egg Allergy", TOMORROW, None)], ["Egg Allergy"], [], id="starts tomorrow"),
    pytest.param([("Nut Allergy", None, None)], [], [], id="empty allow list: nothing medical"),
    pytest.param([("Vegan", None, None), ("Coeliac Disease", None, None), ("egg allergy", None, None),
                  ("Épilepsie", None, None)], ["vegan", "coeliac disease", "Egg Allergy", "épilepsie"],
                 ["Coeliac Disease", "Vegan", "egg allergy", "Épilepsie"], id="sorted by code point"),
    pytest.param([("Nut Allergy", "2020-05-01", None), ("Nut Allergy", "2024-01-01", None)], ["Nut Allergy"],
                 ["Nut Allergy"], id="the same condition twice is sent once"),
]  # fmt: skip


@pytest.mark.parametrize(("conditions", "allow", "dietary"), CASES)
def test_dietary_only_from_the_allow_list(
    conditions: list[tuple[Any, Any, Any]], allow: list[str], dietary: list[str]
) -> None:
    data = bromcom(
        Students=[student(1002)], PersonMedicalConditions=[condition(1002, *c) for c in conditions]
    )
    assert record("pupils", data, dietary_allow=allow)["dietary"] == dietary


def test_another_persons_condition_is_not_theirs() -> None:
    data = bromcom(
        Students=[student(1002, PersonID=1002)],
        PersonMedicalConditions=[condition(5004, "Nut Allergy")],
    )
    assert record("pupils", data)["dietary"] == []


def test_pre_admissions_dietary_follows_the_same_rule() -> None:
    data = bromcom(PreAdmissionStudents=[preadmission(3001)],
                   PersonMedicalConditions=[condition(3001, "Nut Allergy"), condition(3001, "Asthma")])  # fmt: skip
    assert record("preadmissions", data)["dietary"] == ["Nut Allergy"]


def test_staff_records_carry_nothing_medical() -> None:
    data = bromcom(Staff=[staff(2001)], PersonMedicalConditions=[condition(2001, "Nut Allergy")])
    fields = record("staff", data)
    assert "dietary" not in fields and "Nut Allergy" not in str(fields)
