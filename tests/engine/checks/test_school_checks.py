"""A school file's own checks settings (`checks.severity`, `checks.packs`): docs/checks.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.checks.packs import school_checks, shipped_checks
from engine.commands.validate import validate_files
from engine.config.school import load_school
from engine.errors import ConfigError
from tests.conftest import Stack, write_fixture_school_file
from tests.test_end_to_end import bromsync

_PACK = """\
description: The trust's own rule.
checks:
  - name: trust_no_tutor_group
    severity: error
    applies_to: [pupil]
    sql: |
      SELECT mis_id FROM pupils WHERE mis_id = '1010'
    message: The trust needs every pupil in a tutor group.
    remediation: Put the pupil in a tutor group in Bromcom.
"""


def _school(tmp_path: Path, **extra: str) -> Path:
    path = tmp_path / "school.yaml"
    write_fixture_school_file(path, "http://127.0.0.1:1/x.asmx", **extra)
    return path


def test_a_severity_is_changed_and_off_drops_the_check(tmp_path: Path) -> None:
    path = _school(
        tmp_path, checks="{severity: {mobile_too_long: warning, pupil_without_payer: off}}"
    )
    checks = {c.name: c for c in school_checks(load_school(path))}
    assert checks["mobile_too_long"].severity == "warning"
    assert "pupil_without_payer" not in checks
    assert len(checks) == len(shipped_checks()) - 1


def test_a_misspelt_check_name_is_located_with_a_suggestion(tmp_path: Path) -> None:
    path = _school(tmp_path, checks="{severity: {mobile_too_lng: warning}}")
    with pytest.raises(ConfigError, match="did you mean 'mobile_too_long'"):
        school_checks(load_school(path))
    problems, _ = validate_files([path])
    [problem] = [p for p in problems if p.path == str(path)]
    assert (problem.line, problem.message[:16]) == (6, "checks.severity:")
    assert "did you mean 'mobile_too_long'" in problem.message


def test_a_locked_check_cannot_be_switched_off(tmp_path: Path) -> None:
    path = _school(tmp_path, checks="{severity: {duplicate_mis_id: off}}")
    problems, _ = validate_files([path])
    assert any("locked" in p.message and "duplicate_mis_id" in p.message for p in problems)
    with pytest.raises(ConfigError, match="locked"):
        school_checks(load_school(path))


def test_a_missing_pack_is_a_located_problem(tmp_path: Path) -> None:
    path = _school(tmp_path, checks="{packs: [checks/trust.yaml]}")
    problems, _ = validate_files([path])
    assert any("there is no check pack 'checks/trust.yaml'" in p.message for p in problems)


def test_a_pack_that_reuses_a_shipped_name_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "trust.yaml").write_text(_PACK.replace("trust_no_tutor_group", "invalid_email"))
    path = _school(tmp_path, checks="{packs: [trust.yaml]}")
    problems, _ = validate_files([path])
    assert any("invalid_email" in p.message and "also used" in p.message for p in problems)


def test_the_school_s_own_pack_holds_records_back_and_the_plan_records_the_settings(
    stack: Stack,
) -> None:
    (stack.root / "trust.yaml").write_text(_PACK, encoding="utf-8")
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(
        text + "checks: {severity: {mobile_too_long: warning, year_code_not_parentpay: warning},"
        " packs: [trust.yaml]}\n",
        encoding="utf-8",
    )
    result = bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    assert result.exit_code == 3, result.output
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    held = {m for c in plan["checks"] if c["severity"] == "error" for m in c["records"]}
    assert held == {"1010"}  # 1007 is only warned of now; 1010 is the trust's rule
    assert plan["check_settings"] == {
        "severity": {"mobile_too_long": "warning", "year_code_not_parentpay": "warning"},
        "packs": [(stack.root / "trust.yaml").as_posix()],
    }


def test_a_misspelt_column_in_the_school_s_own_pack_stops_the_run_and_validate_locates_it(
    stack: Stack,
) -> None:
    # A run binds its checks when they run, on its own state: a wrong column stops the school
    # there, exit 2, before anything is planned, naming the check, its file and the way on.
    (stack.root / "trust.yaml").write_text(
        _PACK.replace("WHERE mis_id", "WHERE tutor_grop"), encoding="utf-8"
    )
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(text + "checks: {packs: [trust.yaml]}\n", encoding="utf-8")
    result = bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    assert result.exit_code == 2, result.output
    assert "trust.yaml:6:" in result.output
    assert "'trust_no_tutor_group' failed on this run's data" in result.output
    assert "tutor_grop" in result.output and "bromsync validate" in result.output
    assert not (stack.plans / "100001.plan.json").exists()
    checked = bromsync("validate", str(stack.school_file))
    assert checked.exit_code == 2, checked.output
    assert "trust.yaml:7:" in checked.output and "tutor_grop" in checked.output
