"""engine/report/results.py and message.py: each rejection's fix by ParentPay's code, masking,
and what the terminal names (docs/results.md)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import ExitCode
from engine.report.message import results_message
from engine.report.results import build_outcome, masked, rejection_fix, render_results_markdown
from engine.report.terminal import render_outcome, render_tally

ZOE = {"mis_id": "1007", "type": "pupil", "fields": {"forename": "Zoë", "surname": "Chen",
                                                      "year_code": "1", "reg_group": "1L"}}  # fmt: skip


def rejected(code: str, message: str, op: str = "create", mis_id: str = "1007") -> dict[str, Any]:
    return {"index": 0, "op": op, "type": "pupil", "mis_id": mis_id, "status": "rejected",
            "code": code, "message": message}  # fmt: skip


def test_exists_leads_to_the_data_matching_exercise_or_parentpay_support() -> None:
    fix = rejection_fix("exists", "mis_id 1007 is already used by a pupil", kind="pupil",
                        op="create", name="Zoë Chen", school_file="schools/oakfield.yaml")  # fmt: skip
    assert "Run the data-matching exercise, `bromsync match schools/oakfield.yaml`" in fix
    assert "ParentPay support (support@parentpay.com)" in fix
    assert "correct" not in fix  # there is no field to correct for an ID that is taken


def test_invalid_leads_to_the_field_parentpay_names() -> None:
    fix = rejection_fix("invalid", "payer_email: must be an email address or null, not 'x'",
                        kind="pupil", op="create", name="Zoë Chen", school_file=None)  # fmt: skip
    assert fix.startswith("In Bromcom, correct the payer email (payer_email) of Zoë Chen")
    unnamed = rejection_fix("invalid", "something odd", kind="pupil", op="create", name="Zoë Chen",
                            school_file=None)  # fmt: skip
    assert unnamed.startswith("Correct Zoë Chen in Bromcom as ParentPay's message says")


@pytest.mark.parametrize(
    ("now", "said"),
    [
        ({"1007": {"mis_id": "1007", "type": "pupil", "status": "archived"}},
         "ParentPay holds it now as an archived pupil, so the update did not fit it"),
        ({}, "ParentPay holds no record under this ID now, so the update did not fit it"),
        (None, "ParentPay's record under this ID changed after the plan was made"),
    ],
)  # fmt: skip
def test_conflict_and_not_found_say_what_the_record_is_now(
    now: dict[str, Any] | None, said: str
) -> None:
    for code in ("conflict", "not_found"):
        fix = rejection_fix(code, "1007 is archived", kind="pupil", op="update", name="Zoë Chen",
                            school_file=None, now=now, mis_id="1007")  # fmt: skip
        assert fix.startswith(said) and "Run `bromsync run` again" in fix


def test_a_message_naming_a_sensitive_field_is_masked_except_in_the_json() -> None:
    said = "dietary: 'Nut Allergy' is not a known need"
    outcome = build_outcome(
        command="run", school="Oakfield Primary School", urn=100001,
        exit_code=ExitCode.INCOMPLETE, message="0 applied, 1 rejected by ParentPay",
        people={"1007": ZOE}, results=[rejected("invalid", said, op="update")],
    )  # fmt: skip
    assert (
        masked(said) == "a value of dietary (shown as ***: dietary and free-meal values are masked)"
    )
    assert "Nut Allergy" not in render_results_markdown(outcome)
    assert "Nut Allergy" in render_results_markdown(outcome, show_sensitive=True)
    message = results_message(outcome, sender="bromsync@trust.example.org", to=["a@b.example"])
    assert "Nut Allergy" not in message.as_string()
    assert "Nut Allergy" not in "\n".join(render_outcome(outcome))
    assert outcome.rejected[0].to_json()["message"] == said  # the JSON keeps ParentPay's words
    assert outcome.rejected[0].fix.startswith("In Bromcom, correct the dietary needs (dietary)")


def test_the_terminal_names_the_first_20_records_then_counts_the_rest() -> None:
    results = [rejected("exists", f"mis_id {n} is already used", mis_id=str(n)) for n in range(25)]
    outcome = build_outcome(
        command="apply", school="Oakfield Primary School", urn=100001,
        exit_code=ExitCode.INCOMPLETE, message="0 applied, 25 rejected by ParentPay",
        results=results, files={"results_md": "plans/100001.results.md"},
    )  # fmt: skip
    lines = render_outcome(outcome)
    assert lines[0] == "! Oakfield Primary School (100001): 0 applied, 25 rejected by ParentPay"
    assert sum(1 for line in lines if line.startswith("    rejected create pupil ")) == 20
    assert "    ... and 5 more (every one is in plans/100001.results.md)" in lines
    assert len(render_results_markdown(outcome).split("\n- **")) == 26  # the file names all


def test_the_tally_counts_ok_attention_and_failed() -> None:
    def one(code: int, blocked: bool = False) -> Any:
        o = build_outcome(command="run", school="S", urn=1, exit_code=code, message="m")
        o.status = "blocked" if blocked else o.status
        return o

    outcomes = [one(0), one(0), one(3), one(3, blocked=True), one(1)]
    assert render_tally(outcomes, 8.04) == "5 schools: 2 ok, 2 need attention, 1 failed in 8.0 s"
