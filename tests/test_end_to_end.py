"""The whole path for the fixture school: Bromcom simulator -> bromsync -> ParentPay simulator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from bromsync import cli
from tests.conftest import SITE_ID, Stack


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def scrub_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Volatile values out, so the snapshot holds only what the data decides."""
    return {
        **plan,
        "run_id": "<run_id>",
        "digest": "<digest>",
        "baseline": None if plan["baseline"] is None else "<upload_id>",
    }


def people(stack: Stack, status: str = "all") -> dict[str, dict[str, Any]]:
    return {p["mis_id"]: p for p in stack.parentpay.people(SITE_ID, status=status)}


def test_first_run_creates_everyone_then_a_second_run_pushes_nothing(stack: Stack) -> None:
    first = bromsync("run", str(stack.school_file))
    assert first.exit_code == 3, first.output  # 1007's "Year 1" is held back by a check
    assert "12 applied" in first.output
    assert len(people(stack)) == 12 and "1007" not in people(stack)
    uploads_before = len([r for r in stack.parentpay.requests if r.method == "POST"])

    second = bromsync("run", str(stack.school_file))
    assert second.exit_code == 3, second.output
    assert "nothing to push" in second.output
    assert len([r for r in stack.parentpay.requests if r.method == "POST"]) == uploads_before


def test_plan_json_and_markdown_snapshots(
    stack: Stack, snapshot: SnapshotAssertion, raw: SnapshotAssertion
) -> None:
    result = bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    assert result.exit_code == 3, result.output
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    assert scrub_plan(plan) == snapshot.use_extension(JSONSnapshotExtension)
    markdown = (stack.plans / "100001.plan.md").read_text(encoding="utf-8")
    assert markdown == raw
    assert stack.parentpay.people(SITE_ID) == []  # plan pushes nothing


def test_one_surname_change_is_exactly_one_update(stack: Stack) -> None:
    assert bromsync("run", str(stack.school_file)).exit_code == 3
    before = people(stack)
    stack.edit_row("Students", "StudentID", 1003, LastName="O'Brien-Walsh")

    result = bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    assert plan["changes"] == [
        {
            "op": "update",
            "type": "pupil",
            "mis_id": "1003",
            "fields": {"surname": "O'Brien-Walsh", "legal_surname": "O'Brien-Walsh"},
            "before": {"surname": "O'Brien", "legal_surname": "O'Brien"},
        }
    ], result.output

    applied = bromsync("apply", str(stack.plans / "100001.plan.json"))
    assert "1 applied" in applied.output, applied.output
    after = people(stack)
    changed = {m for m in after if after[m] != before[m]}
    assert changed == {"1003"}
    assert after["1003"]["fields"] == {
        **before["1003"]["fields"],
        "surname": "O'Brien-Walsh",
        "legal_surname": "O'Brien-Walsh",
    }


def test_applying_the_same_plan_twice_is_refused_as_already_applied(stack: Stack) -> None:
    bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    plan_file = str(stack.plans / "100001.plan.json")
    first = bromsync("apply", plan_file)
    assert first.exit_code == 3 and "12 applied" in first.output  # 1007 was held back by checks
    again = bromsync("apply", plan_file)
    assert again.exit_code == 2
    assert "already applied on" in again.output and "bromsync plan" in again.output


def test_a_plan_overtaken_by_another_upload_is_refused_as_stale(
    stack: Stack, tmp_path: Path
) -> None:
    bromsync("plan", str(stack.school_file), "--out", str(tmp_path / "old"))
    assert (
        bromsync("run", str(stack.school_file)).exit_code == 3
    )  # another upload happens meanwhile
    result = bromsync("apply", str(tmp_path / "old" / "100001.plan.json"))
    assert result.exit_code == 2, result.output
    assert "is stale: it was planned against upload none: the first upload" in result.output
    assert len(people(stack)) == 12  # nothing pushed twice


def test_apply_needs_the_state_the_plan_was_made_with(stack: Stack, tmp_path: Path) -> None:
    bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    result = bromsync(
        "apply", str(stack.plans / "100001.plan.json"), "--state-dir", str(tmp_path / "elsewhere")
    )
    assert result.exit_code == 2 and "no state for URN 100001" in result.output
    assert not (tmp_path / "elsewhere").exists()


def test_apply_of_a_file_that_is_not_a_plan(stack: Stack, tmp_path: Path) -> None:
    assert "does not exist" in bromsync("apply", str(tmp_path / "nope.json")).output
    readme = tmp_path / "README.md"
    readme.write_text("# hello\n", encoding="utf-8")
    result = bromsync("apply", str(readme))
    assert result.exit_code == 2 and "is not a plan file (it is not JSON)" in result.output


def test_an_edited_plan_is_refused(stack: Stack) -> None:
    bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    path = stack.plans / "100001.plan.json"
    plan = json.loads(path.read_text(encoding="utf-8"))
    plan["changes"][0]["fields"]["surname"] = "Changed By Hand"
    path.write_text(json.dumps(plan), encoding="utf-8")
    result = bromsync("apply", str(path))
    assert result.exit_code == 2 and "changed after bromsync wrote it" in result.output
    assert stack.parentpay.people(SITE_ID) == []


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda s: s.account(password="changed-in-bromcom"), "Change password"),
        (
            lambda s: s.account(permitted=[e for e in s.permitted() if e != "StudentContacts"]),
            "StudentContacts",
        ),
    ],
    ids=["wrong password", "entity not permitted"],
)
def test_source_failures_exit_1_and_push_nothing(
    stack: Stack, break_it: Any, expected: str
) -> None:
    break_it(stack)
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert stack.parentpay.people(SITE_ID) == []
    assert not [r for r in stack.parentpay.requests if r.method == "POST"]


def test_unreachable_url_exits_1_with_what_to_fix(stack: Stack, tmp_path: Path) -> None:
    import socket

    from tests.conftest import write_fixture_school_file

    # A port nothing listens on: bound but not listening, and held for the whole run so no
    # other program (a parallel test run) can start listening on it once it is free.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        school = tmp_path / "unreachable.yaml"
        write_fixture_school_file(
            school,
            f"http://127.0.0.1:{port}/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx",
        )
        result = bromsync("run", str(school))
    assert result.exit_code == 1, result.output
    assert "did not answer" in result.output and "bromcom.url" in result.output
    assert stack.parentpay.people(SITE_ID) == []


def test_missing_password_variable_is_a_configuration_error(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BROMCOM_PASSWORD_OAKFIELD")
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 2, result.output
    assert "BROMCOM_PASSWORD_OAKFIELD" in result.output


def test_a_bad_school_file_fails_alone_and_the_other_school_runs(
    stack: Stack, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("school: {name: X}\n", encoding="utf-8")
    result = bromsync("run", str(stack.school_file), str(bad))
    assert result.exit_code == 2, result.output  # 2 outranks the good school's 3
    assert "X: not run: the school file" in result.output
    assert len(people(stack)) == 12


def test_all_clean_run_exits_0(stack: Stack) -> None:
    stack.edit_row("Students", "StudentID", 1007, YearGroup="1")
    stack.edit_row(
        "PersonCommunications", "Value", "07700 900321 / 07700 900322", Value="07700 900321"
    )
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 0, result.output


def test_rejected_operations_exit_3_and_are_not_sent_again_unchanged(stack: Stack) -> None:
    # A mobile ParentPay refuses that no check catches (a slash in it): sent as it is (never
    # cleaned up to fit) and rejected; the next run does not send the same data again.
    stack.edit_row("Students", "StudentID", 1007, YearGroup="1")
    stack.edit_row(
        "PersonCommunications", "Value", "07700 900321 / 07700 900322", Value="07700/900321"
    )
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3, result.output
    assert (
        "rejected create pupil 1007 Zoë Chen (year 1, 1L): invalid: payer_mobile:" in result.output
    )
    # What to fix, by ParentPay's code: for `invalid`, the field it names, in Bromcom.
    assert "fix: In Bromcom, correct the payer mobile (payer_mobile) of Zoë Chen" in result.output
    assert "1007" not in people(stack)
    posts = len([r for r in stack.parentpay.requests if r.method == "POST"])

    again = bromsync("run", str(stack.school_file), "--out", str(stack.plans))
    assert again.exit_code == 3, again.output
    assert len([r for r in stack.parentpay.requests if r.method == "POST"]) == posts
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    [check] = [c for c in plan["checks"] if c["name"] == "rejected_by_parentpay"]
    assert check["records"] == ["1007"] and "payer_mobile" in check["details"][0]

    stack.edit_row("PersonCommunications", "Value", "07700/900321", Value="07700 900321")
    fixed = bromsync("run", str(stack.school_file))
    assert "1 applied" in fixed.output, fixed.output
    assert "1007" in people(stack)


def test_sql_reads_the_state(stack: Stack) -> None:
    bromsync("run", str(stack.school_file))
    result = bromsync(
        "sql",
        str(stack.school_file),
        "SELECT type, count(*) AS n FROM uploaded GROUP BY type ORDER BY type",
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"pupil\s+\|\s+8", result.output)


def test_two_schools_with_jobs_one_failing_does_not_stop_the_other(
    stack: Stack, tmp_path: Path
) -> None:
    import socket

    from tests.conftest import write_fixture_school_file

    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        broken = tmp_path / "broken.yaml"
        write_fixture_school_file(
            broken,
            f"http://127.0.0.1:{closed.getsockname()[1]}/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx",
        )
        text = broken.read_text(encoding="utf-8").replace("urn: 100001", "urn: 100002")
        broken.write_text(text, encoding="utf-8")
        result = bromsync("run", str(broken), str(stack.school_file), "--jobs", "2")
    assert result.exit_code == 1, result.output  # 1 outranks the good school's 3
    assert "12 applied" in result.output and "did not answer" in result.output
    assert len(people(stack)) == 12


def test_a_missing_password_of_one_school_fails_that_school_alone(
    stack: Stack, tmp_path: Path
) -> None:
    from tests.conftest import write_fixture_school_file

    other = tmp_path / "elm.yaml"
    write_fixture_school_file(other, stack.bromcom.url)
    other.write_text(
        other.read_text(encoding="utf-8")
        .replace("BROMCOM_PASSWORD_OAKFIELD", "BROMCOM_PASSWORD_ELM")
        .replace("urn: 100001", "urn: 100002")
        .replace("parentpay_site_id: 5001", "parentpay_site_id: 5002"),
        encoding="utf-8",
    )
    result = bromsync("run", str(stack.school_file), str(other))
    assert result.exit_code == 2, result.output
    assert "(100002): not run: the environment variable BROMCOM_PASSWORD_ELM" in result.output
    assert len(people(stack)) == 12


def test_the_report_names_who_was_left_out_for_want_of_consent(stack: Stack) -> None:
    from tests.conftest import write_fixture_school_file

    write_fixture_school_file(stack.school_file, stack.bromcom.url)
    text = stack.school_file.read_text(encoding="utf-8").replace("legitimate_interest", "consent")
    stack.school_file.write_text(text, encoding="utf-8")
    bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    assert {"type": "pupil", "mis_id": "1008"} in plan["no_consent_records"]
    assert len(plan["no_consent_records"]) == plan["excluded"]["no_consent"]
    report = (stack.plans / "100001.plan.md").read_text(encoding="utf-8")
    [line] = [x for x in report.splitlines() if "for want of data processing consent" in x]
    assert "(tick it in Bromcom to upload them):" in line and "1008 Noah Adeyemi" in line
    html = (stack.plans / "100001.plan.html").read_text(encoding="utf-8")
    assert "1008 Noah Adeyemi" in html
