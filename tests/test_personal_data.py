"""docs/personal-data.md end to end, for the fixture school through both simulators.

Rule 1: everything bromsync writes is its owner's only (`find state plans -perm /077` finds
nothing), from the CLI and from the engine called directly.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bromsync import cli
from engine.commands.export import export_school
from engine.commands.match import run_match
from engine.commands.plan import plan_school
from engine.commands.run import run_school
from engine.config.school import load_school
from engine.pipeline import Options
from tests.conftest import Stack

URN = 100001


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
