"""engine/plan/reconcile.py through the real simulators: plans read ParentPay as it is now.

Records are edited, archived, deleted and created straight in the ParentPay simulator between
two runs, as a school's administrator would in the web site, and the plan must notice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.commands.plan import plan_school
from engine.commands.run import run_school
from engine.config.school import load_school
from engine.pipeline import Options
from engine.plan.reconcile import same_person
from engine.records import RECORD_FIELDS
from tests.conftest import SITE_ID, Stack, write_fixture_school_file


def options(stack: Stack, **more: Any) -> Options:
    return Options(state_dir=stack.state_dir, out_dir=stack.plans, **more)


def school(stack: Stack, **extra: str) -> Any:
    if extra:
        write_fixture_school_file(stack.school_file, stack.bromcom.url, **extra)
    return load_school(stack.school_file)


def live(stack: Stack) -> dict[str, dict[str, Any]]:
    return {p["mis_id"]: p for p in stack.parentpay.people(SITE_ID, status="all")}


def plan_json(stack: Stack) -> dict[str, Any]:
    return json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))


def checks(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in plan["checks"]}


def person(
    mis_id: str, type_: str = "pupil", status: str = "active", **fields: Any
) -> dict[str, Any]:
    full: dict[str, Any] = dict.fromkeys(RECORD_FIELDS[type_])
    if type_ != "staff":
        full |= {"fsm": False, "dietary": []}
    return {"mis_id": mis_id, "type": type_, "status": status, "fields": full | fields}


# -- same person ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (person("1", dob="2018-01-01", legal_surname="Hall"), person("1", dob="2018-01-01", legal_surname="Ball"), True),
        (person("1", dob="2018-01-01", legal_surname="Hall"), person("1", dob="2019-05-05", legal_surname="hall"), True),
        (person("1", dob="2018-01-01", legal_surname="Hall"), person("1", dob="2019-05-05", legal_surname="Ball"), False),
        (person("1", "preadmission", dob="2022-01-01", legal_surname="Ng"), person("1", dob="2022-01-01", legal_surname="Ng"), True),
        (person("1", "staff", surname="Hall"), person("1", dob="2018-01-01", legal_surname="Hall"), False),
        (person("1", "staff", surname="Hall", email="a@x.uk"), person("1", "staff", surname="Wood", email="a@x.uk"), True),
        (person("1", "staff", surname="Hall", email="a@x.uk"), person("1", "staff", surname="Wood", email="b@x.uk"), False),
    ],
)  # fmt: skip
def test_same_person(a: dict[str, Any], b: dict[str, Any], same: bool) -> None:
    assert same_person(a, b) is same


# -- drift ---------------------------------------------------------------------------------------


def edit_parentpay_by_hand(stack: Stack) -> None:
    stack.parentpay.edit_by_hand(SITE_ID, "1001", payer_email="someone.else@example.com")
    stack.parentpay.edit_by_hand(SITE_ID, "1002", status="archived")  # on roll in Bromcom
    stack.parentpay.delete_by_hand(SITE_ID, "1009")
    stack.parentpay.seed(
        SITE_ID, [person("X77", forename="Made", surname="ByHand", dob="2017-02-03")]
    )


def test_drift_restore_puts_bromcom_back_and_lists_it(stack: Stack) -> None:
    assert run_school(school(stack), options(stack)).exit_code == 3  # 1007 is held by a check
    before = live(stack)
    edit_parentpay_by_hand(stack)

    result = plan_school(school(stack), options(stack))
    plan = plan_json(stack)
    drift = {(d["mis_id"], d["field"]): d for d in plan["drift"]}
    assert drift[("1001", "payer_email")] == {
        "type": "pupil", "mis_id": "1001", "field": "payer_email",
        "parentpay": "someone.else@example.com", "uploaded": "rebecca.whitfield@example.com",
        "bromcom": "rebecca.whitfield@example.com",
    }  # fmt: skip
    assert drift[("1002", "status")]["parentpay"] == "archived"
    assert drift[("1009", "status")]["parentpay"] is None
    assert set(drift) == {("1001", "payer_email"), ("1002", "status"), ("1009", "status")}
    ops = {(c["op"], c["mis_id"]): c for c in plan["changes"]}
    assert set(ops) == {("update", "1001"), ("restore", "1002"), ("create", "1009")}
    assert all(c["reason"] == "drift" for c in ops.values())
    assert ops[("update", "1001")]["fields"] == {"payer_email": "rebecca.whitfield@example.com"}
    assert plan["unmanaged"] == {"pupil": 1, "staff": 0, "preadmission": 0}
    report = (stack.plans / "100001.plan.md").read_text(encoding="utf-8")
    assert "## Changed in ParentPay since the last upload" in report
    assert "someone.else@example.com" in report and "back as Bromcom has them" in report
    assert result.exit_code == 3

    run_school(school(stack), options(stack))
    after = live(stack)
    assert {m: p for m, p in after.items() if m != "X77"} == before  # X77 is not bromsync's
    assert after["X77"]["fields"]["surname"] == "ByHand"


def test_drift_report_changes_nothing_but_lists_it(stack: Stack) -> None:
    run_school(school(stack), options(stack))
    edit_parentpay_by_hand(stack)
    edited = live(stack)

    result = run_school(school(stack, drift="report"), options(stack))
    plan = result.plan
    assert plan is not None
    assert {(d["mis_id"], d["field"]) for d in plan.drift} == {
        ("1001", "payer_email"), ("1002", "status"), ("1009", "status"),
    }  # fmt: skip
    assert plan.changes() == []
    assert live(stack) == edited


def test_an_unchanged_school_pushes_nothing_and_reads_parentpay_once(stack: Stack) -> None:
    run_school(school(stack), options(stack))
    stack.parentpay.clear_requests()
    result = run_school(school(stack), options(stack))
    assert result.applied == 0 and result.plan is not None and result.plan.changes() == []
    reads = [r for r in stack.parentpay.requests if r.method == "GET"]
    assert len(reads) == 1 and "status=all" in reads[0].path


# -- adoption and IDs taken ----------------------------------------------------------------------


def test_a_record_parentpay_holds_for_the_same_person_is_adopted_not_created(stack: Stack) -> None:
    # Left by a run killed after ParentPay applied its create, before bromsync recorded it.
    stack.parentpay.seed(SITE_ID, [person(
        "1001", forename="Alex", surname="Whitfield", legal_forename="Alexander",
        legal_surname="Whitfield", dob="2017-01-15", year_code="3",
    )])  # fmt: skip
    result = run_school(school(stack), options(stack))
    plan = result.plan
    assert plan is not None
    ops = {c["mis_id"]: c["op"] for c in plan.data["changes"]}
    assert ops["1001"] == "update" and plan.data["adopted"] == ["1001"]
    assert not [r for r in result.rejected if r["code"] == "exists"]
    assert live(stack)["1001"]["fields"]["year_code"] == "4"


def test_an_id_parentpay_holds_for_someone_else_is_held_back(stack: Stack) -> None:
    stack.parentpay.seed(SITE_ID, [person(
        "1003", forename="Someone", surname="Else", legal_surname="Else", dob="2010-10-10",
    )])  # fmt: skip
    result = run_school(school(stack), options(stack))
    plan = result.plan
    assert plan is not None
    taken = checks(plan.data)["mis_id_taken"]
    assert taken["records"] == ["1003"]
    assert "Ciarán O'Brien" in taken["details"][0] and "Someone Else" in taken["details"][0]
    assert live(stack)["1003"]["fields"]["surname"] == "Else"
    assert result.exit_code == 3


# -- identity ------------------------------------------------------------------------------------


def test_a_new_staff_member_with_a_former_pupils_id_leaves_the_leaver_untouched(
    stack: Stack,
) -> None:
    run_school(school(stack), options(stack))
    stack.edit_row("Students", "StudentID", 1003, EndDate="2026-11-01")  # Ciarán leaves
    run_school(school(stack), options(stack))
    leaver = live(stack)["1003"]
    assert leaver["status"] == "archived"
    staff = stack.entity("Staff")  # a new teaching assistant is given StaffID 1003
    staff["rows"].append(
        dict(staff["rows"][1], StaffID=1003, PersonID=9003, FirstName="Nia", LastName="Evans",
             PreferredFirstName=None, StaffCode="NE", StartDate="2026-11-02")
    )  # fmt: skip
    stack.save_entity("Staff", staff)

    result = run_school(school(stack), options(stack))
    assert live(stack)["1003"] == leaver
    plan = result.plan
    assert plan is not None
    hit = checks(plan.data)["identity_changed"]
    assert hit["records"] == ["1003"] and "Nia Evans" in hit["details"][0]
    assert result.exit_code == 3


def test_a_reused_staff_id_does_not_rename_the_departed_account(stack: Stack) -> None:
    run_school(school(stack), options(stack))
    departed = live(stack)["2002"]
    # Dai Llewellyn leaves; Bromcom gives his StaffID to a new person.
    stack.edit_row("Staff", "StaffID", 2002, FirstName="Grace", LastName="Okafor",
                   PreferredFirstName=None, Title="Ms")  # fmt: skip
    stack.edit_row("People", "PersonID", 2002, FirstName="Grace", LastName="Okafor",
                   PreferredFirstName=None, Title="Ms")  # fmt: skip
    stack.edit_row("Emails", "PersonID", 2002, EmailAddress="g.okafor@oakfield.example.org")
    result = run_school(school(stack), options(stack))
    assert live(stack)["2002"] == departed
    plan = result.plan
    assert plan is not None
    hit = checks(plan.data)["identity_changed"]
    assert hit["records"] == ["2002"] and "Okafor" in hit["details"][0]

    confirmed = school(stack, identity='{confirmed: ["2002"]}')
    result = run_school(confirmed, options(stack))
    assert live(stack)["2002"]["fields"]["surname"] == "Okafor"
    assert result.plan is not None and "identity_change_confirmed" in checks(result.plan.data)


# -- offline -------------------------------------------------------------------------------------


def test_offline_plans_need_no_parentpay_and_cannot_be_applied(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from engine.commands.apply import apply_plan
    from engine.errors import PlanError

    monkeypatch.delenv("BROMSYNC_PARENTPAY_URL")
    monkeypatch.delenv("BROMSYNC_PARENTPAY_TOKEN")
    result = plan_school(school(stack), options(stack, offline=True))
    assert result.plan is not None and result.plan.offline
    assert "Planned with `--offline`" in (stack.plans / "100001.plan.md").read_text("utf-8")
    with pytest.raises(PlanError, match="--offline"):
        apply_plan(stack.plans / "100001.plan.json", options(stack))


def test_a_create_that_looks_like_an_unmanaged_record_is_held_not_duplicated(stack: Stack) -> None:
    # An account from the school's old MIS, a letter out in the surname, a day out in the dob.
    stack.parentpay.seed(SITE_ID, [person(
        "OLD-17", forename="Alex", surname="Whitfeld", dob="2018-01-16", year_code="4",
    )])  # fmt: skip
    result = run_school(school(stack), options(stack))
    plan = result.plan
    assert plan is not None
    hit = checks(plan.data)["possible_duplicate"]
    assert hit["records"] == ["1001"]
    assert "OLD-17" in hit["details"][0] and "Whitfeld" in hit["details"][0]
    assert "1001" not in live(stack)  # no second account
    assert result.exit_code == 3


def test_plan_offline_on_the_command_line_runs_without_the_parentpay_variables(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from bromsync import cli

    monkeypatch.delenv("BROMSYNC_PARENTPAY_URL")
    monkeypatch.delenv("BROMSYNC_PARENTPAY_TOKEN")
    args = [
        "plan",
        str(stack.school_file),
        "--out",
        str(stack.plans),
        "--state-dir",
        str(stack.state_dir),
    ]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "BROMSYNC_PARENTPAY_URL" in refused.output
    offline = CliRunner().invoke(cli, [*args, "--offline"])
    assert offline.exit_code == 3, offline.output  # 1007 is held back by a check
    assert plan_json(stack)["offline"] is True
