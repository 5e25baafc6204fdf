"""The --bromcom-timeout and --parentpay-timeout flags reach the clients: they outrank the
school file's `timeouts`, and the message names the timeout that fired."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from bromsync import cli
from simulators.bromcom import Fault
from tests.conftest import Stack

DATA = "getEntityDataBySchoolID"


def test_bromcom_timeout_flag_cuts_a_slow_answer_short_and_the_retry_says_so(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # Students is answered after 2.5 s once: within the school file's 300 s, but not within 1 s.
    stack.bromcom.inject(Fault.delay(2.5, operation=DATA, entity="Students", times=1))
    result = CliRunner().invoke(
        cli, ["plan", str(stack.school_file), "--out", str(stack.plans), "--bromcom-timeout", "1"]
    )
    assert result.exit_code == 3, result.output  # 1007 held back by its check, as always
    # The retry line (a warning on stderr) names the timeout that fired.
    [retry] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert retry.startswith("Oakfield Primary School: no answer in 1 s; retrying entity Students")
    assert "12 to create" in result.output


def test_without_the_flag_the_school_files_timeout_holds(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.bromcom.inject(Fault.delay(1.5, operation=DATA, entity="Students", times=1))
    result = CliRunner().invoke(cli, ["plan", str(stack.school_file), "--out", str(stack.plans)])
    assert result.exit_code == 3, result.output
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_parentpay_timeout_flag_is_checked_like_every_number(stack: Stack) -> None:
    result = CliRunner().invoke(cli, ["run", str(stack.school_file), "--parentpay-timeout", "0"])
    assert result.exit_code == 2
    assert "--parentpay-timeout" in result.output and "1<=x<=3600" in result.output
