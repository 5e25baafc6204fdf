"""The archive and consent guards of docs/school-file.md and 3: blocked plans push nothing, exit 3."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_TODAY, PARENTPAY_TOKEN, SITE_ID, Stack
from tests.test_end_to_end import bromsync


def _end_pupils(stack: Stack, ids: list[int]) -> None:
    content = stack.entity("Students")
    for row in content["rows"]:
        if row["StudentID"] in ids:
            row["EndDate"] = "2026-11-20"
    stack.save_entity("Students", content)


def _school_file(stack: Stack, guards: str) -> None:
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(text + f"guards: {guards}\n", encoding="utf-8")


def test_archiving_40_percent_of_pupils_is_blocked_and_nothing_is_pushed(stack: Stack) -> None:
    # The fixture has 8 pupils acknowledged; with a count limit of 1 the percent limit decides.
    _school_file(stack, "{max_archive_percent: 10, max_archive_count: 1}")
    assert bromsync("run", str(stack.school_file)).exit_code == 3
    before = stack.parentpay.people(SITE_ID)
    posts = len([r for r in stack.parentpay.requests if r.method == "POST"])
    _end_pupils(stack, [1001, 1002, 1003])  # 3 of 8 active pupils: 38%

    result = bromsync("run", str(stack.school_file), "--out", str(stack.plans))
    assert result.exit_code == 3, result.output
    assert "would archive 3 of 8 pupils" in result.output
    assert "--allow-mass-archive" in result.output
    assert stack.parentpay.people(SITE_ID) == before
    assert len([r for r in stack.parentpay.requests if r.method == "POST"]) == posts
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    assert plan["blocked"] is True and plan["summary"]["pupil"]["archive"] == 3


def test_the_same_plan_passes_with_allow_mass_archive(stack: Stack) -> None:
    _school_file(stack, "{max_archive_percent: 10, max_archive_count: 1}")
    bromsync("run", str(stack.school_file))
    _end_pupils(stack, [1001, 1002, 1003])
    result = bromsync("run", str(stack.school_file), "--allow-mass-archive")
    assert "3 applied" in result.output, result.output
    archived = {p["mis_id"] for p in stack.parentpay.people(SITE_ID, status="archived")}
    assert archived == {"1001", "1002", "1003"}


def test_both_limits_must_be_exceeded(stack: Stack) -> None:
    # 3 archives is over 10% but not over the default count of 25: not blocked.
    bromsync("run", str(stack.school_file))
    _end_pupils(stack, [1001, 1002, 1003])
    result = bromsync("run", str(stack.school_file))
    assert "blocked" not in result.output and "3 applied" in result.output, result.output


def test_a_blocked_plan_file_cannot_be_applied(stack: Stack) -> None:
    _school_file(stack, "{max_archive_percent: 10, max_archive_count: 1}")
    bromsync("run", str(stack.school_file))
    _end_pupils(stack, [1001, 1002, 1003])
    assert bromsync("plan", str(stack.school_file), "--out", str(stack.plans)).exit_code == 3
    result = bromsync("apply", str(stack.plans / "100001.plan.json"))
    assert result.exit_code == 3 and "blocked" in result.output  # like a blocked run


def test_consent_school_with_nobody_consented_is_blocked(stack: Stack) -> None:
    content = stack.entity("Students")
    for row in content["rows"]:
        row["DataProcessingConsent"] = False
    stack.save_entity("Students", content)
    text = stack.school_file.read_text(encoding="utf-8").replace("legitimate_interest", "consent")
    stack.school_file.write_text(text, encoding="utf-8")
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3, result.output
    assert "steps 11-16" in result.output and "Data processing consent" in result.output
    assert stack.parentpay.people(SITE_ID) == []


def test_a_generated_primary_losing_40_percent_of_pupils_is_blocked_then_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 5's case at realistic size: 40% of a one-form primary gone at once (say a
    permission was unticked for part of the data) blocks with exit 3; after review,
    --allow-mass-archive lets the same archives through."""
    from simulators.bromcom import BromcomSimulator
    from simulators.datagen import generate_school, write_school_file
    from simulators.parentpay import ParentPaySimulator

    today = dt.date.fromisoformat(FIXTURE_TODAY)
    summary = generate_school(
        tmp_path / "bromcom",
        org_id=30001,
        seed=7,
        size="primary",
        today=today,
        username="pp",
        password="pw",
    )
    monkeypatch.setenv("BROMSYNC_TODAY", FIXTURE_TODAY)
    monkeypatch.setenv("PRIMARY_PASSWORD", "pw")
    monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", PARENTPAY_TOKEN)
    monkeypatch.setenv("BROMSYNC_STATE_DIR", str(tmp_path / "state"))
    with (
        BromcomSimulator(tmp_path / "bromcom") as bromcom,
        ParentPaySimulator(
            tmp_path / "parentpay", token=PARENTPAY_TOKEN, sites=[SITE_ID]
        ) as parentpay,
    ):
        monkeypatch.setenv("BROMSYNC_PARENTPAY_URL", parentpay.url)
        school = tmp_path / "primary.yaml"
        write_school_file(
            school,
            summary,
            url=bromcom.url,
            password_env="PRIMARY_PASSWORD",
            parentpay_site_id=SITE_ID,
            options=("pupils",),
        )
        assert bromsync("run", str(school)).exit_code in (0, 3)
        active = [p["mis_id"] for p in parentpay.people(SITE_ID, type="pupil")]
        leaving = set(active[: round(len(active) * 0.4)])

        path = tmp_path / "bromcom" / "30001" / "Students.json"
        content = json.loads(path.read_text(encoding="utf-8"))
        content["rows"] = [r for r in content["rows"] if str(r["StudentID"]) not in leaving]
        path.write_text(json.dumps(content), encoding="utf-8")
        stamp = path.stat().st_mtime + 2
        os.utime(path, (stamp, stamp))
        posts = len([r for r in parentpay.requests if r.method == "POST"])

        blocked = bromsync("run", str(school))
        assert blocked.exit_code == 3, blocked.output
        percent = f"{100 * len(leaving) / len(active):.1f}".removesuffix(".0")
        assert 39.5 <= float(percent) <= 40.5
        assert (
            f"would archive {len(leaving)} of {len(active)} pupils ({percent}%)" in blocked.output
        )
        assert len([r for r in parentpay.requests if r.method == "POST"]) == posts
        assert len(parentpay.people(SITE_ID, type="pupil")) == len(active)

        allowed = bromsync("run", str(school), "--allow-mass-archive")
        assert allowed.exit_code in (0, 3), allowed.output
        archived = {p["mis_id"] for p in parentpay.people(SITE_ID, type="pupil", status="archived")}
        assert archived == leaving
