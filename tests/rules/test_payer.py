"""The payer (docs/rules.md, Payers and contacts): the contact whose link is current today, with
parental responsibility, no court order and the lowest Priority; their lowest-Priority email and
lowest-Priority Mobile are sent. A court-order contact is never sent, whatever its priority."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rules.helpers import (
    TOMORROW,
    YESTERDAY,
    bromcom,
    contact,
    email,
    person,
    phone,
    preadmission,
    record,
    records,
    student,
)  # fmt: skip

# Two contacts of pupil 1009: 5012 (priority 1 unless a case says) and 5013 (priority 2).
FATHER, MOTHER = 5012, 5013
ADDRESSES = {
    FATHER: ("darren.hughes@example.net", "07700 900112"),
    MOTHER: ("kelly.hughes@example.com", "07700 900113"),
}


def family(
    first: dict[str, Any],
    second: dict[str, Any] | None = None,
    *,
    priorities: tuple[Any, Any] = (1, 2),
) -> dict[str, Any]:
    links = [contact(1009, FATHER, priorities[0], **{"Relationship": "Father", **first})]
    if second is not None:
        links.append(contact(1009, MOTHER, priorities[1], **second))
    return bromcom(
        Students=[student(1009)],
        StudentContacts=links,
        People=[person(FATHER), person(MOTHER)],
        Emails=[email(p, ADDRESSES[p][0]) for p in (FATHER, MOTHER)],
        PersonCommunications=[phone(p, ADDRESSES[p][1]) for p in (FATHER, MOTHER)],
    )


# (priority-1 link changes, priority-2 link changes or None for no second contact, payer)
CASES = [
    pytest.param({}, {}, FATHER, id="priority 1 wins"),
    pytest.param({"CourtOrder": True}, {}, MOTHER, id="court order at priority 1: priority 2 pays"),
    pytest.param({"CourtOrder": True}, None, None, id="court order on the only contact: no payer"),
    pytest.param({"CourtOrder": True, "ParentalResponsibility": True, "LivesWithStudent": False}, {"CourtOrder": True},
                 None, id="court orders on both: no payer"),
    pytest.param({"CourtOrder": None}, {}, FATHER, id="court order not recorded: none"),
    pytest.param({"ParentalResponsibility": False}, {}, MOTHER, id="no parental responsibility"),
    pytest.param({"ParentalResponsibility": None}, {}, MOTHER, id="parental responsibility unknown"),
    pytest.param({"ParentalResponsibility": False, "Relationship": "Grandparent"},
                 {"ParentalResponsibility": False, "Relationship": "Other"}, None,
                 id="nobody with parental responsibility: sent without a payer"),
    pytest.param({"EndDate": YESTERDAY}, {}, MOTHER, id="link ended yesterday"),
    pytest.param({"EndDate": "2026-11-28"}, {}, FATHER, id="link ending today"),
    pytest.param({"StartDate": TOMORROW}, {}, MOTHER, id="link starting tomorrow"),
    pytest.param({"StartDate": "2022-09-05", "EndDate": "2026-07-17"}, {"StartDate": "2022-09-05"}, MOTHER,
                 id="an ended childminder link"),
]  # fmt: skip


@pytest.mark.parametrize(("first", "second", "payer"), CASES)
def test_the_payer(first: dict[str, Any], second: dict[str, Any] | None, payer: int | None) -> None:
    fields = record("pupils", family(first, second))
    expected = ADDRESSES[payer] if payer else (None, None)
    assert (fields["payer_email"], fields["payer_mobile"]) == expected
    if payer != FATHER:  # nothing of a contact who is not the payer leaves Bromcom
        assert ADDRESSES[FATHER][0] not in str(fields) and ADDRESSES[FATHER][1] not in str(fields)


@pytest.mark.parametrize(
    ("priorities", "payer"),
    [((2, 1), MOTHER), ((1, 2), FATHER), ((None, 3), MOTHER), ((7, 12), FATHER)],
    ids=["rows out of priority order", "in order", "no priority sorts last", "gaps in numbering"],
)
def test_lowest_priority_number_wins(priorities: tuple[Any, Any], payer: int) -> None:
    fields = record("pupils", family({}, {}, priorities=priorities))
    assert fields["payer_email"] == ADDRESSES[payer][0]


def _contact_details(emails: list[dict[str, Any]], phones: list[dict[str, Any]]) -> dict[str, Any]:
    return record("pupils", bromcom(
        Students=[student(1002)], StudentContacts=[contact(1002, 5004, 1)], People=[person(5004)],
        Emails=emails, PersonCommunications=phones))  # fmt: skip


# (Emails rows, PersonCommunications rows, payer_email, payer_mobile) of payer 5004
DETAILS = [
    pytest.param([email(5004, "second@example.com", 2), email(5004, "first@example.com", 1)], [], "first@example.com",
                 None, id="lowest-priority email, rows out of order"),
    pytest.param([email(5004, "home@example.com", 2), email(5004, "work@example.com", 1, "Work")], [],
                 "work@example.com", None, id="a Work email at priority 1 is their first email"),
    pytest.param([], [phone(5004, "0113 496 0104", 1, "Work Telephone"), phone(5004, "07700 900104", 2)], None,
                 "07700 900104", id="priority-1 phone is a Work Telephone: the Mobile is sent"),
    pytest.param([], [phone(5004, "07700 900999", 3), phone(5004, "07700 900104", 2)], None, "07700 900104",
                 id="lowest-priority Mobile"),
    pytest.param([], [phone(5004, "0113 496 0114", 1, "Home Telephone")], None, None,
                 id="a landline is never sent as the mobile"),
    pytest.param([], [phone(5004, "07700 900321 / 07700 900322")], None, "07700 900321 / 07700 900322",
                 id="an over-long mobile is sent as written (ParentPay refuses it), never trimmed"),
    pytest.param([email(5004, "maire.obrien@example.com")], [phone(5004, "+44 7700 900107")],
                 "maire.obrien@example.com", "+44 7700 900107", id="international format kept"),
]  # fmt: skip


@pytest.mark.parametrize(("emails", "phones", "payer_email", "payer_mobile"), DETAILS)
def test_the_payers_email_and_mobile(emails: list[Any], phones: list[Any], payer_email: str | None,
                                     payer_mobile: str | None) -> None:  # fmt: skip
    fields = _contact_details(emails, phones)
    assert (fields["payer_email"], fields["payer_mobile"]) == (payer_email, payer_mobile)


def test_siblings_share_a_payer() -> None:
    data = bromcom(
        Students=[student(1002), student(1003)],
        StudentContacts=[contact(1002, 5004, 1), contact(1003, 5004, 1), contact(1003, 5005, 2)],
        People=[person(5004), person(5005)],
        Emails=[email(5004, "maire.obrien@example.com"), email(5005, "sean@example.com")],
    )
    assert {m: f["payer_email"] for m, f in records("pupils", data).items()} == {
        "1002": "maire.obrien@example.com",
        "1003": "maire.obrien@example.com",
    }


def test_a_pre_admissions_payer_follows_the_same_rule() -> None:
    data = bromcom(
        PreAdmissionStudents=[preadmission(3001)],
        StudentContacts=[contact(3001, 5012, 1, CourtOrder=True), contact(3001, 5018, 2)],
        People=[person(5012), person(5018)],
        Emails=[email(5012, "never@example.net"), email(5018, "bethan.morgan@example.com")],
        PersonCommunications=[phone(5012, "07700 900112"), phone(5018, "07700 900118")],
    )
    fields = record("preadmissions", data)
    assert (fields["payer_email"], fields["payer_mobile"]) == (
        "bethan.morgan@example.com",
        "07700 900118",
    )
