"""Mapping files: the shipped ones compile, and broken ones fail in `validate` with a location."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from engine.errors import MappingError
from engine.shipped import mappings_dir
from engine.transform.mapping import compile_mapping, load_mapping, load_mappings
from tests.helpers import REPO

CASES = Path("tests/cases/mappings")
CASE_NAMES = sorted(p.stem for p in (REPO / CASES).glob("*.yaml"))


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_golden_case(name: str, raw: SnapshotAssertion) -> None:
    mapping, problems = compile_mapping(CASES / f"{name}.yaml")
    if name.startswith("good_"):
        assert mapping is not None and not problems
        rendered = f"type {mapping.type}; entities {', '.join(mapping.entities())}\n"
    else:
        assert mapping is None and problems
        rendered = "".join(f"{p}\n" for p in problems)
    assert rendered == raw


def test_bad_expression_points_at_its_line_with_a_caret() -> None:
    _, problems = compile_mapping(CASES / "bad_expression.yaml")
    first = str(problems[0])
    assert first.startswith("tests/cases/mappings/bad_expression.yaml:10:")
    assert "^" in first


@pytest.mark.parametrize("option", ["pupils", "staff", "preadmissions"])
def test_shipped_mappings_compile(option: str) -> None:
    [mapping] = load_mappings([option])
    assert mapping.option == option


def test_load_mapping_raises_with_every_problem() -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping(CASES / "bad_fields.yaml")
    assert len(caught.value.problems) == 2


def test_unknown_option_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="no mapping for upload option 'lunches'"):
        load_mappings(["lunches"], tmp_path)


def test_mappings_dir_holds_the_shipped_files() -> None:
    assert (mappings_dir() / "pupils.yaml").is_file()
