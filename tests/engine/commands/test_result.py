"""engine/commands/result.py: the results files of `run` and `apply` (docs/results.md).

Four schools in one run, each ending its own way: Oakfield with a pupil held back by checks,
Ash with a create ParentPay rejects, Birch blocked by the consent guard, Cedar failed (Bromcom
refuses its password). Every school gets `<urn>.results.json` and `.results.md`, the run gets
one `run-results.json`, and the terminal names every record that did not go.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from bromsync import cli
from engine.report.terminal import SHOWN
from tests.conftest import Stack

SCHOOLS = {100001: "Oakfield", 100002: "Ash", 100003: "Birch", 100004: "Cedar"}


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def copy_org(stack: Stack, org_id: int) -> Path:
    """A second Bromcom school with the fixture's data (and account), to edit on its own."""
    folder = stack.data / str(org_id)
    shutil.copytree(stack.data / "20001", folder)
    return folder


def edit_rows(folder: Path, entity: str, change: Any) -> None:
    path = folder / f"{entity}.json"
    content = json.loads(path.read_text(encoding="utf-8"))
    for row in content["rows"]:
        change(row)
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")


def school_file(stack: Stack, name: str, urn: int, org_id: int, **changes: str) -> Path:
    text = stack.school_file.read_text(encoding="utf-8")
    text = text.replace("Oakfield Primary School", f"{name} Primary School")
    text = text.replace("urn: 100001", f"urn: {urn}").replace("org_id: 20001", f"org_id: {org_id}")
    text = text.replace("parentpay_site_id: 5001", f"parentpay_site_id: {urn - 95000}")
    for old, new in changes.items():
        text = text.replace(old, new)
    path = stack.root / f"{name.lower()}.yaml"
    path.write_text(text, encoding="utf-8")
    stack.parentpay.add_site(urn - 95000)
    return path


@pytest.fixture
def four(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    ash = copy_org(stack, 20002)
    edit_rows(
        ash, "Students", lambda r: r.update(YearGroup="1") if r["StudentID"] == 1007 else None
    )
    edit_rows(ash, "PersonCommunications", lambda r: r.update(Value="07700/900321")
              if r["Value"] == "07700 900321 / 07700 900322" else None)  # fmt: skip
    birch = copy_org(stack, 20003)
    edit_rows(birch, "Students", lambda r: r.update(DataProcessingConsent=False))
    monkeypatch.setenv("BROMCOM_PASSWORD_CEDAR", "not-the-password")
    return [
        stack.school_file,
        school_file(stack, "Ash", 100002, 20002),
        school_file(stack, "Birch", 100003, 20003, legitimate_interest="consent"),
        school_file(stack, "Cedar", 100004, 20001,
                    BROMCOM_PASSWORD_OAKFIELD="BROMCOM_PASSWORD_CEDAR"),
    ]  # fmt: skip


def scrub(text: str, stack: Stack) -> str:
    """What changes from run to run out: times, digests, ids, ports, the test's folder."""
    text = text.replace(str(stack.root), "<tmp>")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "<time>", text)
    text = re.sub(r'"(seconds|elapsed_seconds)": [0-9.]+', r'"\1": 0', text)
    text = re.sub(r"· [0-9]+\.[0-9] s", "· <seconds> s", text)
    text = re.sub(r'"(plan_digest|invocation_id)": "[^"]+"', r'"\1": "<id>"', text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)
    return text


def read(stack: Stack, name: str) -> str:
    return scrub((stack.root / "plans" / name).read_text(encoding="utf-8"), stack)


def test_a_run_of_held_back_rejected_blocked_and_failed_schools(
    stack: Stack, four: list[Path], raw: SnapshotAssertion, snapshot: SnapshotAssertion
) -> None:
    result = bromsync("run", *map(str, four))
    assert result.exit_code == 1, result.output  # Cedar's 1 outranks the others' 3

    heads = [line for line in result.output.splitlines() if line[:2] in ("✔ ", "! ", "✘ ")]
    assert [h.split(" (")[0] for h in heads] == [
        "! Oakfield Primary School", "! Ash Primary School", "! Birch Primary School",
        "✘ Cedar Primary School",
    ]  # fmt: skip
    assert (
        "rejected create pupil 1007 Zoë Chen (year 1, 1L): invalid: payer_mobile:" in result.output
    )
    assert "4 schools: 0 ok, 3 need attention, 1 failed in " in result.output
    assert "run results: plans/run-results.json" in result.output

    as_json = snapshot.use_extension(JSONSnapshotExtension)
    for urn, name in SCHOOLS.items():
        assert read(stack, f"{urn}.results.md") == raw(name=f"{name}.results.md")
        assert json.loads(read(stack, f"{urn}.results.json")) == as_json(name=f"{name}.results")
    run_results = json.loads(read(stack, "run-results.json"))
    assert run_results == as_json(name="run-results")
    assert [r["status"] for r in run_results["results"]] == [
        "incomplete", "incomplete", "blocked", "failed",
    ]  # fmt: skip
    assert run_results["tally"] == {"schools": 4, "ok": 0, "need_attention": 3, "failed": 1}

    # The report `run` wrote says what became of the plan, not how to push it.
    report = (stack.root / "plans" / "100002.plan.md").read_text(encoding="utf-8")
    assert "Pushed by `bromsync run`: 12 applied, 1 rejected by ParentPay." in report
    assert "To push exactly this plan" not in report
    blocked = (stack.root / "plans" / "100003.plan.md").read_text(encoding="utf-8")
    assert "`bromsync run` did not push this plan: it is blocked." in blocked


def test_results_files_are_readable_by_their_owner_only(stack: Stack) -> None:
    bromsync("run", str(stack.school_file))
    for name in ("100001.results.json", "100001.results.md", "run-results.json"):
        assert (stack.root / "plans" / name).stat().st_mode & 0o777 == 0o600


def test_a_school_with_more_than_20_records_held_back_names_20_and_counts_the_rest(
    stack: Stack,
) -> None:
    # Every pupil and pre-admission given a year group ParentPay does not know.
    for entity, key in (("Students", "YearGroup"), ("PreAdmissionStudents", "YearGroup")):
        content = stack.entity(entity)
        for row in content["rows"]:
            if key in row:
                row[key] = "Year X"
        content["rows"] = [dict(r) for r in content["rows"] for _ in range(3)]
        for n, row in enumerate(content["rows"]):
            row["StudentID"] = 5000 + n
        stack.save_entity(entity, content)
    result = bromsync("plan", str(stack.school_file))
    named = [line for line in result.output.splitlines() if line.startswith("      5")]
    assert len(named) == SHOWN
    [more] = [line for line in result.output.splitlines() if line.startswith("    ... and ")]
    assert more.endswith("more (every one is in plans/100001.plan.md)")


def test_apply_writes_results_for_a_refused_plan_too(stack: Stack) -> None:
    assert bromsync("plan", str(stack.school_file)).exit_code == 3
    assert bromsync("apply", "plans/100001.plan.json").exit_code == 3
    again = bromsync("apply", "plans/100001.plan.json", "--out", "again")
    assert again.exit_code == 2 and "already applied on" in again.output
    data = json.loads((stack.root / "again" / "100001.results.json").read_text(encoding="utf-8"))
    assert data["command"] == "apply" and data["status"] == "error"
    assert data["failed"]["error"] == "PlanError"
    assert data["failed"]["fix"].startswith("Run `bromsync plan` again")
    assert data["held_back"][0]["mis_id"] == "1007" and data["held_back"][0]["name"] == "Zoë Chen"
