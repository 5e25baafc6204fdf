"""School files: golden cases (one readable .raw snapshot each) and the loader's contracts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from engine.config.school import (
    SchoolConfig,
    load_school,
    school_problems,
    school_schema,
)
from engine.config.yamlfile import Locator, Problem, load_yaml, schema_problems
from engine.errors import ConfigError, MissingSecretError
from tests.helpers import REPO

CASES = Path("tests/cases/schools")  # relative, so snapshots hold stable paths
CASE_NAMES = sorted(p.stem for p in (REPO / CASES).glob("*.yaml"))


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def _render(path: Path) -> str:
    problems = school_problems(path)
    if problems:
        return "".join(f"{p}\n" for p in problems)
    return json.dumps(load_school(path).as_dict(), indent=2) + "\n"


@pytest.mark.parametrize("name", CASE_NAMES)
def test_golden_case(name: str, raw: SnapshotAssertion) -> None:
    path = CASES / f"{name}.yaml"
    rendered = _render(path)
    # The name says which way it must go, so a snapshot cannot quietly bless a wrong outcome.
    if name.startswith("good_"):
        assert not rendered.startswith(str(path)), rendered
    else:
        assert rendered.startswith(f"{path}:"), rendered
    assert rendered == raw


def test_cases_cover_good_and_bad() -> None:
    assert any(n.startswith("good_") for n in CASE_NAMES)
    assert any(n.startswith("bad_") for n in CASE_NAMES)


def test_example_school_file_loads() -> None:
    config = load_school(Path("schools/oakfield.yaml"))
    assert (config.name, config.urn, config.parentpay_site_id) == (
        "Oakfield Primary School",
        100001,
        5001,
    )
    assert config.bromcom.org_id == 20001
    assert config.bromcom.password_env == "BROMCOM_PASSWORD_OAKFIELD"
    assert config.options == ("pupils", "staff", "preadmissions")
    assert config.ufsm_year_codes == ("R", "1", "2")


def test_load_school_raises_config_error_listing_every_problem() -> None:
    path = CASES / "bad_several.yaml"
    with pytest.raises(ConfigError) as caught:
        load_school(path)
    assert caught.value.problems == [str(p) for p in school_problems(path)]
    assert len(caught.value.problems) > 5
    assert caught.value.exit_code == 2
    for line in caught.value.problems:
        assert line in str(caught.value)


def test_several_problems_come_in_file_order() -> None:
    problems = school_problems(CASES / "bad_several.yaml")
    positions = [(p.line, p.col) for p in problems]
    assert positions == sorted(positions)
    assert len({p.line for p in problems}) >= 8


def test_secrets_are_never_repeated_in_messages() -> None:
    text = "".join(str(p) for p in school_problems(CASES / "bad_password_key.yaml"))
    assert "Hunter2" not in text
    assert "bromcom.password_env" in text
    several = "".join(str(p) for p in school_problems(CASES / "bad_several.yaml"))
    assert "Secret99" not in several and "abc123" not in several


def test_missing_file_is_one_problem_at_1_1(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    problems = school_problems(path)
    assert len(problems) == 1
    assert (problems[0].line, problems[0].col) == (1, 1)
    assert str(problems[0]).startswith(f"{path}:1:1: cannot read the file")


def test_validate_reports_every_file_in_order() -> None:
    from engine.commands.validate import validate_files

    paths = [
        CASES / "good_minimal.yaml",
        CASES / "bad_lawful_basis.yaml",
        CASES / "bad_urn_type.yaml",
    ]
    problems, _ = validate_files(paths)
    assert problems == school_problems(paths[1]) + school_problems(paths[2])


def test_schema_defaults_match_dataclass_defaults() -> None:
    # The schema documents the defaults; the dataclass applies them: they must agree.
    props = school_schema()["properties"]
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(SchoolConfig)
        if f.default is not dataclasses.MISSING
    }
    assert (
        props["upload"]["properties"]["staff_id_prefix"]["default"] == defaults["staff_id_prefix"]
    )
    assert (
        tuple(props["upload"]["properties"]["include_enrolment_statuses"]["default"])
        == (defaults["include_enrolment_statuses"])
    )
    for key in ("max_archive_percent", "max_archive_count", "max_blank_percent", "max_blank_count"):
        assert props["guards"]["properties"][key]["default"] == defaults[key], key
    minimal = load_school(CASES / "good_minimal.yaml")
    assert minimal.dietary_allow == tuple(props["dietary"]["properties"]["allow"]["default"])
    assert dict(minimal.year_code_aliases) == props["year_code_aliases"]["default"]


def test_every_schema_property_is_described_and_closed() -> None:
    def walk(schema: dict[str, Any], where: str) -> None:
        if schema.get("type") == "object" and "properties" in schema:
            assert schema.get("additionalProperties") is False, where
        for key, sub in schema.get("properties", {}).items():
            assert sub.get("description"), f"{where}.{key} has no description"
            walk(sub, f"{where}.{key}")

    walk(school_schema(), "school file")


def test_password_is_read_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_school(Path("schools/oakfield.yaml"))
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", "s3cret")
    assert config.bromcom.password() == "s3cret"


def test_missing_password_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loading never needs the password: validate must work on a support agent's laptop.
    monkeypatch.delenv("BROMCOM_PASSWORD_OAKFIELD", raising=False)
    config = load_school(Path("schools/oakfield.yaml"))
    with pytest.raises(MissingSecretError) as caught:
        config.bromcom.password()
    assert "BROMCOM_PASSWORD_OAKFIELD" in str(caught.value)


# -- engine.config.yamlfile, through a schema that knows nothing of schools -----------------------

_TINY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["size"],
    "properties": {
        "size": {"description": "how many, e.g. 3. More words here.", "type": "integer"},
        "colour": {"enum": ["red", "green"]},
    },
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    return path


def test_locator_points_at_values_keys_and_parents(tmp_path: Path) -> None:
    path = _write(tmp_path, "a:\n  b: [x, y]\n  c: 1\n")
    data, locator, problems = load_yaml(path)
    assert problems == [] and data == {"a": {"b": ["x", "y"], "c": 1}}
    assert locator(("a", "b", 1)) == (2, 10)
    assert locator.key(("a", "c")) == (3, 3)
    assert locator(("a", "missing")) == locator(("a",)) == (2, 3)
    assert isinstance(locator, Locator)


def test_keys_are_text_as_written(tmp_path: Path) -> None:
    data, _, _ = load_yaml(_write(tmp_path, "1: one\non: yes\n"))
    assert data == {"1": "one", "on": True}


def test_generic_schema_messages(tmp_path: Path) -> None:
    path = _write(tmp_path, "sise: 3\ncolour: blu\n")
    data, locator, _ = load_yaml(path)
    got = [str(p) for p in schema_problems(data, locator, _TINY, path)]
    assert got == [  # 'size' is not also reported missing: the misspelling says it once
        f"{path}:1:1: unknown key 'sise' in the file; did you mean 'size'?",
        f"{path}:2:9: colour: 'blu' is not allowed; use one of: red, green",
    ]
    path = _write(tmp_path, "colour: red\n")
    data, locator, _ = load_yaml(path)
    assert [str(p) for p in schema_problems(data, locator, _TINY, path)] == [
        f"{path}:1:1: the file is missing 'size' (how many, e.g. 3)"
    ]
    path = _write(tmp_path, "size: abc\n")
    data, locator, _ = load_yaml(path)
    assert [str(p) for p in schema_problems(data, locator, _TINY, path)] == [
        f"{path}:1:7: size: expected a whole number, got 'abc'"
    ]


def test_duplicate_keys_are_each_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "a: 1\nb: 2\na: 3\na: 4\n")
    data, _, problems = load_yaml(path)
    assert data == {"a": 4, "b": 2}
    assert [(p.line, p.col) for p in problems] == [(3, 1), (4, 1)]
    assert problems[0] == Problem(
        str(path), 3, 1, "duplicate key 'a' in the file (first at line 1); keep only one of them"
    )


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    data, _, problems = load_yaml(
        _write(tmp_path, "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    )
    assert problems == []
    assert data["use"] == {"x": 1, "y": 3}


def test_alias_bombs_are_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    data, _, problems = load_yaml(_write(tmp_path, "\n".join(lines) + "\n"))
    assert data is None
    assert [p.message for p in problems] == ["the file has too many nodes or aliases"]


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://mis.example.org/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx", True),
        ("https://mis.example.org:8443/nucleus/tpreadonlydataservice.asmx", True),
        ("http://localhost:9000/", True),
        ("http://[::1]:9000/TPReadOnlyDataService.asmx", True),
        ("http://127.0.0.1/x", True),
        ("http://127.0.0.2/TPReadOnlyDataService.asmx", False),
        ("http://localhost.example.org/TPReadOnlyDataService.asmx", False),
        ("ftp://mis.example.org/TPReadOnlyDataService.asmx", False),
        ("https://mis.example.org/Nucleus/TPReadOnlyDataService.asmx#top", False),
        ("https://mis.example.org/TP ReadOnlyDataService.asmx", False),
    ],
)
def test_url_rule(tmp_path: Path, url: str, accepted: bool) -> None:
    text = (REPO / CASES / "good_minimal.yaml").read_text()
    text = text.replace(
        "https://cloudmis.bromcom.com/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx",
        url,
    )
    path = _write(tmp_path, text)
    problems = school_problems(path)
    assert (problems == []) is accepted, problems
    if not accepted:
        assert [p.line for p in problems] == [7]
        assert all(p.message.startswith("bromcom.url ") for p in problems)


AWKWARD = "p@ss w&rd<\"'>/+=%é"


@pytest.mark.parametrize(
    ("url", "what"),
    [
        (
            f"https://parentpay_oakfield:{AWKWARD}@mis.example.org/TPReadOnlyDataService.asmx",
            "password",
        ),
        ("https://u:p%40ss@mis.example.org/TPReadOnlyDataService.asmx", "password"),
        ("http://u:pw@127.0.0.1:8080/x", "password"),  # loopback: not "not in the right form"
        ("https://u:p/w?x#y@mis.example.org/TPReadOnlyDataService.asmx", "password"),
        ("https://TOKEN-LIKE@mis.example.org/TPReadOnlyDataService.asmx", "username"),
    ],
)
def test_credentials_in_the_url_are_refused_without_showing_them(
    tmp_path: Path, url: str, what: str
) -> None:
    text = (REPO / CASES / "good_minimal.yaml").read_text()
    text = text.replace(
        "https://cloudmis.bromcom.com/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx",
        json.dumps(url),
    )
    path = _write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_school(path)

    [problem] = caught.value.problems
    assert f"bromcom.url must not hold a {what} (it reads http" in problem
    assert "://***@" in problem and "bromcom.username" in problem
    if what == "password":
        assert "environment variable named by bromcom.password_env" in problem
    for secret in (AWKWARD, "p%40ss", "p@ss", "pw@", "p/w", "TOKEN-LIKE"):
        assert secret not in problem
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("value", "said"), [("", "is set but empty"), ("  ", "is set but holds only spaces")]
)
def test_an_empty_password_variable_is_not_called_unset(
    monkeypatch: pytest.MonkeyPatch, value: str, said: str
) -> None:
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", value)
    config = load_school(Path("schools/oakfield.yaml"))
    with pytest.raises(MissingSecretError, match=f"BROMCOM_PASSWORD_OAKFIELD {said}"):
        config.bromcom.password()
