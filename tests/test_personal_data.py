"""docs/personal-data.md end to end, for the fixture school through both simulators.

Rule 1: everything bromsync writes is its owner's only (`find state plans -perm /077` finds
nothing), from the CLI and from the engine called directly. Rule 2: a medical condition that
is not on dietary.allow is never fetched, so it is nowhere: not in any table of the state, not
in a plan, not in a recording.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from bromsync import cli
from engine.commands.export import export_school
from engine.commands.match import run_match
from engine.commands.plan import plan_school
from engine.commands.run import run_school
from engine.config.school import load_school
from engine.pipeline import Options
from engine.state.store import state_path
from tests.conftest import Stack

URN = 100001
# PersonMedicalConditions of the fixture: 1002 has Asthma (with Notes) and a Nut Allergy, 1003
# an Egg Allergy that ended, 2001 Diabetes Type 1. The school allows Nut Allergy only.
NOT_ALLOWED = ("Asthma", "Inhaler kept in the classroom", "Egg Allergy", "Diabetes")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual 022 (under which a plain open makes files anyone can read), restored after:
    the CLI tightens the umask of the process it runs in, which is this test's."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def open_to_others(*folders: Path) -> list[str]:
    """`find FOLDER... -perm /077`: every file or folder group or others may use."""
    found = []
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            if stat.S_IMODE(path.lstat().st_mode) & 0o077:
                found.append(f"{oct(stat.S_IMODE(path.lstat().st_mode))} {path}")
    return found


def test_everything_the_cli_writes_is_the_owners_only(stack: Stack, loose_umask: None) -> None:
    school, plans = str(stack.school_file), str(stack.plans)
    records, exports = stack.root / "recording", stack.root / "exports"
    assert bromsync("run", school, "--out", plans).exit_code == 3  # 1007 is held back
    assert bromsync("plan", school, "--out", plans, "--record", str(records)).exit_code == 3
    assert bromsync("export", school, "--out", str(exports)).exit_code == 3
    assert bromsync("match", school, "--out", plans).exit_code in (0, 3)

    assert {p.name for p in stack.plans.iterdir()} >= {
        "100001.plan.json",
        "100001.plan.md",
        "100001.plan.html",
        "100001.match.json",
        "100001.match.md",
    }
    assert (records / "20001" / "manifest.json").exists() and list(exports.glob("*.csv"))
    assert open_to_others(stack.state_dir, stack.plans, records, exports) == []


def test_the_engine_writes_owner_only_whatever_the_umask(stack: Stack, loose_umask: None) -> None:
    """Called as a library (no CLI to set the umask), every writer still sets the modes."""
    school = load_school(stack.school_file)
    out, records, exports = stack.root / "out", stack.root / "recording", stack.root / "exports"
    options = Options(state_dir=stack.state_dir, out_dir=out, record_dir=records)
    assert run_school(school, options).exit_code == 3
    assert plan_school(school, options).exit_code == 3
    assert export_school(school, exports, options).exit_code == 3
    run_match(school, options)
    assert open_to_others(stack.state_dir, out, records, exports) == []


def _state_text(path: Path) -> str:
    """Every value of every table of the state file, as text."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        assert "raw_personmedicalconditions" in tables
        return "\n".join(
            repr(row) for t in tables for row in con.execute(f'SELECT * FROM "{t}"').fetchall()
        )
    finally:
        con.close()


def _files_text(*folders: Path) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for f in folders for p in f.rglob("*") if p.is_file()
    )


def test_a_condition_not_on_dietary_allow_is_written_nowhere(stack: Stack) -> None:
    records = stack.root / "recording"
    assert bromsync("run", str(stack.school_file), "--out", str(stack.plans)).exit_code == 3
    plan = bromsync(
        "plan", str(stack.school_file), "--out", str(stack.plans), "--record", str(records)
    )
    assert plan.exit_code == 3

    [asked] = {r.entity_filter for r in stack.bromcom.requests if r.entity_name and
               r.entity_name.lower() == "personmedicalconditions"}  # fmt: skip
    assert asked == "MedicalConditionDescription IN ('Nut Allergy')"
    state, files = _state_text(state_path(stack.state_dir, URN)), _files_text(stack.plans, records)
    for word in NOT_ALLOWED:
        assert word not in state, word
        assert word not in files, word
    assert "Nut Allergy" in state and "Nut Allergy" in files  # the allowed one is there
    assert stack.parentpay.people(5001)  # the run pushed
    pupil = {p["mis_id"]: p for p in stack.parentpay.people(5001)}["1002"]
    assert pupil["fields"]["dietary"] == ["Nut Allergy"]


def test_with_dietary_allow_empty_no_condition_is_fetched_at_all(stack: Stack) -> None:
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(text.replace("dietary: {allow: [Nut Allergy]}\n", ""))
    result = bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    assert result.exit_code == 3, result.output
    assert "PersonMedicalConditions: not fetched, dietary.allow lists nothing" in result.output
    asked = [r.entity_name for r in stack.bromcom.requests if r.operation.startswith("getEntity")]
    assert asked and "PersonMedicalConditions" not in asked
    state = _state_text(state_path(stack.state_dir, URN))
    assert "Nut Allergy" not in state and "Inhaler" not in state


def test_an_unticked_conditions_entity_still_fails_the_permission_check(stack: Stack) -> None:
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(text.replace("dietary: {allow: [Nut Allergy]}\n", ""))
    stack.account(permitted=[e for e in stack.permitted() if e != "PersonMedicalConditions"])
    result = bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    assert result.exit_code == 1, result.output
    assert "PersonMedicalConditions" in result.output


def test_allowed_conditions_match_in_any_case_as_bromcom_compares(stack: Stack) -> None:
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(text.replace("[Nut Allergy]", "[nut ALLERGY]"))
    assert bromsync("run", str(stack.school_file)).exit_code == 3
    pupil = {p["mis_id"]: p for p in stack.parentpay.people(5001)}["1002"]
    assert pupil["fields"]["dietary"] == ["Nut Allergy"]  # as Bromcom spells it
