"""engine/pipeline.py: which entities are fetched only in part, and with which values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config.school import load_school
from engine.pipeline import SETTING_KEYS, fetch_only, school_settings
from engine.shipped import schemas_dir
from engine.sources.extract import Only
from engine.transform.mapping import load_mapping, load_mappings
from tests.conftest import write_fixture_school_file

CONDITIONS = "MedicalConditionDescription"


def _school(tmp_path: Path, **extra: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "oakfield.yaml"
    write_fixture_school_file(path, "https://cloudmis.bromcom.com/x.asmx", **extra)
    return load_school(path)


def test_the_shipped_mappings_fetch_only_the_allowed_conditions(tmp_path: Path) -> None:
    school = _school(tmp_path)  # dietary.allow: [Nut Allergy]
    only = fetch_only(load_mappings(["pupils", "staff", "preadmissions"]), school)
    # pupils and preadmissions both read them, asking for the same rows: asked for once
    assert only == {
        "PersonMedicalConditions": [Only(CONDITIONS, ("Nut Allergy",), "dietary.allow")]
    }


def test_with_dietary_allow_empty_no_condition_is_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "school.yaml"
    write_fixture_school_file(path, "https://cloudmis.bromcom.com/x.asmx")
    path.write_text(path.read_text().replace("dietary: {allow: [Nut Allergy]}\n", ""))
    only = fetch_only(load_mappings(["pupils"]), load_school(path))
    assert only == {"PersonMedicalConditions": [Only(CONDITIONS, (), "dietary.allow")]}


def test_one_read_of_an_entity_without_fetch_only_fetches_it_whole(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    pupils = (Path("mappings") / "pupils.yaml").read_text(encoding="utf-8")
    (folder / "pupils.yaml").write_text(pupils, encoding="utf-8")
    # The same entity read whole by a second join: every row is needed, so none is filtered.
    (folder / "staff.yaml").write_text(
        (Path("mappings") / "staff.yaml")
        .read_text(encoding="utf-8")
        .replace("joins:\n", "joins:\n  conditions: {entity: PersonMedicalConditions, "
                 "match: {PersonID: PersonID}, many: true}\n", 1),
        encoding="utf-8",
    )  # fmt: skip
    staff = load_mapping(folder / "staff.yaml")
    assert ("PersonMedicalConditions", None) in staff.reads()
    assert fetch_only([load_mapping(folder / "pupils.yaml"), staff], _school(tmp_path)) == {}


def test_every_list_setting_can_be_a_fetch_only_and_says_where_it_is_written(
    tmp_path: Path,
) -> None:
    settings = school_settings(_school(tmp_path))
    lists = sorted(name for name, value in settings.items() if isinstance(value, list))
    schema = json.loads((schemas_dir() / "mapping.schema.json").read_text())
    allowed = schema["$defs"]["joins"]["additionalProperties"]["properties"]["fetch_only"]
    assert sorted(allowed["properties"]["in_setting"]["enum"]) == lists == sorted(SETTING_KEYS)


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import REPO

    monkeypatch.chdir(REPO)
