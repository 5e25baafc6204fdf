"""`bromsync check` (engine.commands.setup_check) against the fixture school on both simulators.

Each test breaks one thing the way a school would (Stack.account, Stack.edit_row) and reads
the checklist; none of them may reach ParentPay, and the school's real state is never made.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from engine.commands.setup_check import run_setup_check
from engine.config.school import load_school
from engine.report.checklist import SetupCheckResult, guess_year_code, render_checklist
from engine.sources.bromcom import BromcomSource
from tests.conftest import Stack, write_fixture_school_file


def check(stack: Stack, school_file: Path | None = None) -> SetupCheckResult:
    result = run_setup_check(load_school(school_file or stack.school_file))
    # The check pushes nothing and talks to ParentPay not at all; the real state stays unmade.
    assert stack.parentpay.requests == []
    assert not stack.state_dir.exists()
    return result


def marks(result: SetupCheckResult) -> dict[str, bool | None]:
    return {item.name: item.ok for item in result.items}


def scrub(text: str, stack: Stack) -> str:
    text = text.replace(str(stack.root), "<tmp>")
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)


def fix_mobile(stack: Stack) -> None:
    # 1007's payer has two numbers in one Mobile (22 digits): the check pack holds 1007 back.
    stack.edit_row(
        "PersonCommunications", "Value", "07700 900321 / 07700 900322", Value="07700 900321"
    )


def make_ready(stack: Stack) -> None:
    # The fixture carries a "Year 1" on purpose (tests/fixtures/README.md); a ready school has not.
    stack.edit_row("Students", "StudentID", 1007, YearGroup="1")
    fix_mobile(stack)


def test_a_ready_school_passes_every_point_and_exits_0(
    stack: Stack, raw: SnapshotAssertion
) -> None:
    make_ready(stack)
    result = check(stack)
    assert result.exit_code == 0, render_checklist(result)
    assert set(marks(result).values()) == {True}
    assert result.trial is not None
    assert (
        result.trial.data["summary"]["pupil"]["create"] == 9
    )  # 1001-1012 less a leaver, a future starter, an S
    others = [result.trial.data["summary"][t] for t in ("staff", "preadmission")]
    assert not any(n for counts in others for n in counts.values())  # the trial is pupils only
    # Each entity is read from Bromcom once, though the points and the trial plan all use it.
    fetched = [
        r.entity_name for r in stack.bromcom.requests if r.operation.startswith("getEntityData")
    ]
    assert sorted(fetched) == sorted(set(fetched)) and "Staff" in fetched
    assert scrub(render_checklist(result), stack) == raw


def test_two_unticked_entities_and_a_year_1_are_named_in_one_checklist(
    stack: Stack, raw: SnapshotAssertion
) -> None:
    untick = {"StudentContacts", "PersonCommunications"}
    stack.account(permitted=[e for e in stack.permitted() if e not in untick])
    stack.edit_row("Students", "StudentID", 1003, YearGroup="Year 5")  # 1007 is "Year 1" already
    result = check(stack)
    assert result.exit_code == 3
    assert marks(result) == {
        "school_file": True, "url": True, "credentials": True, "entities": False,
        "year_codes": False, "ufsm_years": False, "consent": True, "trial": None,
    }  # fmt: skip
    entities = result.item("entities")
    assert "StudentContacts, PersonCommunications" in entities.detail
    assert entities.fix is not None and "Third Party Access Permissions" in entities.fix
    assert "steps 6-7" in entities.fix and "StudentContacts, PersonCommunications" in entities.fix
    years = result.item("year_codes")
    assert (
        "'Year 1': 1 pupil (1007 Zoë Chen in 1L); 'Year 5': 1 pupil (1003 Ciarán O'Brien in 5B)"
        in years.detail
    )
    assert years.fix is not None
    assert "recode year group 'Year 1' as 1, year group 'Year 5' as 5" in years.fix
    assert '{"Year 1": "1", "Year 5": "5"}' in years.fix
    assert "year code 1;" in result.item("ufsm_years").detail  # Year 1 is a UFSM year here
    assert scrub(render_checklist(result), stack) == raw


def test_an_entity_only_the_guide_asks_for_is_advice_not_a_failure(stack: Stack) -> None:
    make_ready(stack)
    stack.account(permitted=[e for e in stack.permitted() if e != "Timetable"])
    result = check(stack)
    assert result.exit_code == 0, render_checklist(result)
    assert "also asks to tick Timetable" in result.item("entities").detail


def test_a_year_code_alias_in_the_school_file_is_applied(stack: Stack, tmp_path: Path) -> None:
    fix_mobile(stack)
    school = tmp_path / "aliased.yaml"
    write_fixture_school_file(school, stack.bromcom.url, year_code_aliases='{"Year 1": "1"}')
    result = check(stack, school)
    assert result.exit_code == 0, render_checklist(result)
    assert "R 2, 1 1, 2 2" in result.item("ufsm_years").detail


def test_a_wrong_password_fails_the_credentials_and_skips_the_rest(stack: Stack) -> None:
    stack.account(password="changed-in-bromcom")
    result = check(stack)
    assert result.exit_code == 3
    credentials = result.item("credentials")
    assert credentials.ok is False and credentials.fix is not None
    assert "step 4" in credentials.fix and '"Change password"' in credentials.fix
    assert "BROMCOM_PASSWORD_OAKFIELD" in credentials.fix
    after = [
        item for item in result.items if item.name not in ("school_file", "url", "credentials")
    ]
    assert after and all(item.ok is None for item in after)
    assert not [r for r in stack.bromcom.requests if r.operation.startswith("getEntityData")]
    assert "[SKIP] 8. Trial pupil upload" in render_checklist(result)


def test_an_unknown_mis_orgid_fails_the_credentials(stack: Stack, tmp_path: Path) -> None:
    school = tmp_path / "wrong_id.yaml"
    write_fixture_school_file(school, stack.bromcom.url)
    school.write_text(
        school.read_text(encoding="utf-8").replace("20001", "20999"), encoding="utf-8"
    )
    result = check(stack, school)
    assert result.exit_code == 3
    credentials = result.item("credentials")
    assert credentials.ok is False and "school ID 20999" in credentials.detail
    assert "bromcom.org_id" in (credentials.fix or "") and "MIS OrgID" in (credentials.fix or "")


def test_an_unreachable_url_exits_1(stack: Stack, tmp_path: Path) -> None:
    # A port nothing listens on: bound but not listening, and held for the whole check so no
    # other program (a parallel test run) can start listening on it once it is free.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        school = tmp_path / "unreachable.yaml"
        write_fixture_school_file(school, f"http://127.0.0.1:{port}/TPReadOnlyDataService.asmx")
        result = run_setup_check(
            load_school(school),
            source_factory=lambda s: BromcomSource.for_school(s, max_attempts=1),
        )
    assert result.exit_code == 1
    assert marks(result)["url"] is False and marks(result)["credentials"] is None
    assert "did not answer" in result.item("url").detail
    assert "bromcom.url" in (result.item("url").fix or "")
    assert "could not run" in render_checklist(result)
    assert stack.parentpay.requests == []


def test_a_consent_school_where_nobody_has_consent_exits_3(stack: Stack, tmp_path: Path) -> None:
    make_ready(stack)
    students = stack.entity("Students")
    for row in students["rows"]:
        row["DataProcessingConsent"] = False
    stack.save_entity("Students", students)
    school = tmp_path / "consent.yaml"
    write_fixture_school_file(school, stack.bromcom.url)
    school.write_text(
        school.read_text(encoding="utf-8").replace("legitimate_interest", "consent"),
        encoding="utf-8",
    )
    result = check(stack, school)
    assert result.exit_code == 3
    consent = result.item("consent")
    assert consent.ok is False and "none of the pupils" in consent.detail
    assert consent.fix is not None and "steps 11-16" in consent.fix
    assert "Data processing consent has been granted" in consent.fix
    assert result.item("year_codes").ok is True  # year codes are checked with or without consent
    trial = result.item("trial")
    assert trial.ok is False and "blocked" in trial.detail


def test_a_missing_password_variable_is_the_first_point(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BROMCOM_PASSWORD_OAKFIELD")
    result = check(stack)
    assert result.exit_code == 3
    first = result.item("school_file")
    assert first.ok is False and "BROMCOM_PASSWORD_OAKFIELD" in (first.fix or "")
    assert all(item.ok is None for item in result.items[1:])
    assert stack.bromcom.requests == []


@pytest.mark.parametrize(
    ("value", "code"),
    [("Year 1", "1"), ("Yr 10", "10"), ("Y07", "7"), ("Reception", "R"), ("Rec", "R"),
     ("Nursery 2", "N2"), ("Year 15", None), ("Class 3", None), ("", None)],
)  # fmt: skip
def test_the_suggested_code_for_a_year_group(value: str, code: str | None) -> None:
    assert guess_year_code(value) == code


def test_a_fetch_cut_short_after_the_credentials_exits_1(stack: Stack) -> None:
    from simulators.bromcom import Fault

    stack.bromcom.inject(
        Fault.connection_reset(operation="getEntityDataBySchoolID", entity="Students")
    )
    result = run_setup_check(
        load_school(stack.school_file),
        source_factory=lambda s: BromcomSource.for_school(s, max_attempts=1),
    )
    assert result.exit_code == 1
    assert marks(result)["entities"] is True
    assert marks(result)["year_codes"] is False
    assert "reading Bromcom's data failed" in result.item("year_codes").detail
    assert marks(result)["trial"] is None
    assert stack.parentpay.requests == []


def test_the_trial_names_every_record_it_holds_back_with_the_check_and_fix(stack: Stack) -> None:
    stack.edit_row("Students", "StudentID", 1007, YearGroup="1")  # the mobile still has 22 digits
    result = check(stack)
    assert result.exit_code == 3
    trial = result.item("trial")
    assert trial.ok is False
    assert trial.detail.endswith(
        "; held back by mobile_too_long (22 digits): 1007 Zoë Chen (year 1, 1L)"
    )
    assert trial.fix is not None and trial.fix.startswith(
        "mobile_too_long: In Bromcom, keep one number"
    )
    assert "Not ready to go live: 1 point to fix." in render_checklist(result)
