"""`bromsync validate` checks every entity and column a mapping names against the catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bromsync import cli
from engine.commands.validate import validate_files
from engine.shipped import mappings_dir


def _pupils(tmp_path: Path, old: str, new: str) -> Path:
    """mappings/pupils.yaml with one piece of text changed, as a school's support agent might."""
    text = (mappings_dir() / "pupils.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "pupils.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _at(path: Path, text: str) -> tuple[int, int]:
    """The line and column (from 1) where text first appears, so a test survives edits above it."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} is not in {path}")


def test_a_misspelt_join_column_is_found_with_its_line_and_the_right_spelling(
    tmp_path: Path,
) -> None:
    # The case that passed validate and blanked 201 payers on the next run.
    path = _pupils(tmp_path, "match: {StudentID: StudentID}", "match: {StudentId: StudentID}")
    problems, _ = validate_files([path])
    line, col = _at(path, "StudentId")
    assert [str(p) for p in problems] == [
        f"{path}:{line}:{col}: joins.contacts.match: StudentContacts has no column 'StudentId'; did you "
        "mean 'StudentID'? (the columns bromsync assumes are in docs/bromcom.md, \"The catalogue\")"
    ]


def test_the_parent_side_of_a_join_is_checked_against_the_parent_entity(tmp_path: Path) -> None:
    path = _pupils(tmp_path, "match: {StudentID: StudentID}", "match: {StudentID: StudentId}")
    [problem] = validate_files([path])[0]
    assert (problem.line, problem.col) == _at(path, "StudentId")
    assert "Students has no column 'StudentId'; did you mean 'StudentID'?" in problem.message


def test_an_unknown_entity_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    path = _pupils(tmp_path, "entity: Students", "entity: Studnets")
    [problem] = validate_files([path])[0]
    assert (problem.line, problem.col) == _at(path, "Studnets")
    assert problem.message.startswith(
        "source.entity: 'Studnets' is not a Bromcom entity bromsync knows; did you mean 'Students'?"
    )


def test_a_misspelt_column_inside_a_long_expression_is_pointed_at(tmp_path: Path) -> None:
    path = _pupils(tmp_path, "!CourtOrder", "!CourtOrdr")
    [problem] = validate_files([path])[0]
    assert (problem.line, problem.col) == _at(path, "CourtOrdr")
    assert (
        "let.payer: StudentContacts has no column 'CourtOrdr'; did you mean 'CourtOrder'?"
        in str(problem)
    )


@pytest.mark.parametrize(
    ("old", "new"), [("entity: Students", "entity: students"), ("entity: People", "entity: PEOPLE")]
)
def test_entities_match_in_any_letter_case(tmp_path: Path, old: str, new: str) -> None:
    assert validate_files([_pupils(tmp_path, old, new)])[0] == []


def test_the_command_prints_path_line_col_and_exits_2(tmp_path: Path) -> None:
    path = _pupils(tmp_path, "fields:\n  upn: UPN", "fields:\n  upn: UPNumber")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    line, col = _at(path, "UPNumber")
    assert f"{path}:{line}:{col}: fields.upn: Students has no column 'UPNumber'" in result.output


def test_the_shipped_mappings_are_valid() -> None:
    paths = sorted(mappings_dir().glob("*.yaml"))
    assert len(paths) == 3
    assert validate_files(paths) == ([], 3)
