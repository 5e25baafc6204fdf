"""Consent (docs/rules.md, Consent and lawful basis): with `lawful_basis: consent` only people with
DataProcessingConsent are sent (pupils, staff, pre-admissions) and counted when left out; a
contact without it is never the payer. Under legitimate interest everyone on roll is shared."""

from __future__ import annotations

import pytest

from tests.rules.helpers import bromcom, contact, email, person, preadmission, run, staff, student

# (option, root entity, row builder) for the three people types
TYPES = [
    ("pupils", "Students", lambda consent: student(1001, DataProcessingConsent=consent)),
    ("staff", "Staff", lambda consent: staff(2001, DataProcessingConsent=consent)),
    (
        "preadmissions",
        "PreAdmissionStudents",
        lambda consent: preadmission(3001, DataProcessingConsent=consent),
    ),
]

# (lawful_basis, the person's DataProcessingConsent, sent?)
BASES = [
    pytest.param("consent", True, True, id="consent school, consent ticked"),
    pytest.param("consent", False, False, id="consent school, not ticked"),
    pytest.param("consent", None, False, id="consent school, consent unknown"),
    pytest.param("legitimate_interest", True, True, id="legitimate interest, ticked"),
    pytest.param("legitimate_interest", False, True, id="legitimate interest, not ticked"),
]


@pytest.mark.parametrize(("option", "entity", "row"), TYPES, ids=[t[0] for t in TYPES])
@pytest.mark.parametrize(("basis", "consent", "sent"), BASES)
def test_consent_filter(
    option: str, entity: str, row: object, basis: str, consent: bool | None, sent: bool
) -> None:
    result = run(option, bromcom(**{entity: [row(consent)]}), lawful_basis=basis)  # type: ignore[operator]
    assert len(result.records) == (1 if sent else 0)
    assert result.no_consent == (0 if sent else 1)  # the plan's excluded.no_consent


def test_the_include_rules_come_first_a_leaver_is_not_counted_as_no_consent() -> None:
    rows = [
        student(1001, DataProcessingConsent=False, EndDate="2026-10-23"),
        student(1002, DataProcessingConsent=False),
    ]
    result = run("pupils", bromcom(Students=rows), lawful_basis="consent")
    assert result.records == [] and result.no_consent == 1 and result.left_out == {"on_roll": 1}


def _family(first_consent: bool | None) -> dict[str, object]:
    return bromcom(
        Students=[student(1006)],
        StudentContacts=[contact(1006, 5009, 1), contact(1006, 5010, 2)],
        People=[person(5009, consent=first_consent), person(5010)],
        Emails=[email(5009, "donna.jackson@example.org"), email(5010, "second@example.org")],
    )


# (lawful_basis, consent of the priority-1 contact, payer_email sent)
PAYERS = [
    pytest.param("consent", False, "second@example.org", id="consent school skips a contact without consent"),
    pytest.param("consent", None, "second@example.org", id="consent school skips a contact of unknown consent"),
    pytest.param("consent", True, "donna.jackson@example.org", id="consent school, contact consented"),
    pytest.param("legitimate_interest", False, "donna.jackson@example.org",
                 id="legitimate interest uses the priority-1 contact"),
]  # fmt: skip


@pytest.mark.parametrize(("basis", "first_consent", "payer_email"), PAYERS)
def test_the_payer_needs_consent_in_a_consent_school(
    basis: str, first_consent: bool | None, payer_email: str
) -> None:
    [sent] = run("pupils", _family(first_consent), lawful_basis=basis).records
    assert sent["fields"]["payer_email"] == payer_email


def test_a_contact_without_consent_is_not_counted_as_an_excluded_person() -> None:
    # docs/plan.md: excluded.no_consent counts pupils, staff and pre-admissions, not contacts.
    result = run("pupils", _family(False), lawful_basis="consent")
    assert len(result.records) == 1 and result.no_consent == 0


def test_pre_admission_payer_needs_consent_too() -> None:
    data = bromcom(
        PreAdmissionStudents=[preadmission(3001)],
        StudentContacts=[contact(3001, 5018, 1)],
        People=[person(5018, consent=False)],
        Emails=[email(5018, "bethan.morgan@example.com")],
    )
    assert (
        run("preadmissions", data, lawful_basis="consent").records[0]["fields"]["payer_email"]
        is None
    )
    assert (
        run("preadmissions", data).records[0]["fields"]["payer_email"]
        == "bethan.morgan@example.com"
    )
