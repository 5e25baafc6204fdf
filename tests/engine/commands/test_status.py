"""`bromsync status` end to end: it reads the state files alone and says what to do next."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.test_end_to_end import bromsync


def test_a_school_that_never_ran_is_named_with_how_to_start(stack: Stack) -> None:
    result = bromsync("status", str(stack.school_file))
    assert result.exit_code == 3, result.output
    assert "never run" in result.output and "bromsync check" in result.output
    assert not stack.state_dir.exists() or not list(stack.state_dir.iterdir())  # nothing written


def test_after_a_run_the_school_s_held_record_is_the_next_step_and_the_page_links_its_report(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fixture school has one pupil an error check holds back (tests/fixtures/README.md).
    assert bromsync("run", str(stack.school_file), "--out", str(stack.plans)).exit_code == 3
    for name in ("BROMSYNC_PARENTPAY_URL", "BROMSYNC_PARENTPAY_TOKEN", "BROMCOM_PASSWORD_OAKFIELD"):
        monkeypatch.delenv(name)  # status reads the state file alone
    result = bromsync("status", str(stack.school_file), "--out", str(stack.plans))
    assert result.exit_code == 3, result.output
    assert "correct the 1 held-back record in Bromcom" in result.output
    assert "1 school: 1 needs attention" in result.output
    page = (stack.plans / "status.html").read_text(encoding="utf-8")
    assert 'href="100001.plan.html"' in page or 'href="100001.results.md"' in page


def test_a_failed_last_run_gives_its_reason(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    bromsync("run", str(stack.school_file))
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", "wrong")
    assert bromsync("run", str(stack.school_file)).exit_code == 1
    result = bromsync("status", str(stack.school_file))
    assert result.exit_code == 1, result.output
    assert "the last run failed:" in result.output and "password" in result.output.lower()


def test_a_broken_school_file_is_one_failed_line_and_the_others_are_shown(stack: Stack) -> None:
    bad = stack.root / "typo.yaml"
    bad.write_text("school: [\n", encoding="utf-8")
    bromsync("run", str(stack.school_file))
    result = bromsync("status", str(stack.school_file), str(bad))
    assert result.exit_code == 1, result.output
    assert "fix the school file" in result.output and "Oakfield Primary School" in result.output
    assert "2 schools: 1 needs attention, 1 failed" in result.output


def test_the_status_page_is_readable_by_its_owner_only(stack: Stack) -> None:
    bromsync("status", str(stack.school_file), "--out", str(stack.plans))
    assert (stack.plans / "status.html").stat().st_mode & 0o077 == 0
    assert stack.plans.stat().st_mode & 0o077 == 0
