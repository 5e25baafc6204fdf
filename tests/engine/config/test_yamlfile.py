"""engine.config.yamlfile: bytes a YAML file must not hold are located, never a crash.

A NUL byte, another invisible control character or text that is not UTF-8 gets pasted into a
school file from a spreadsheet or a word processor; PyYAML would raise with a character
offset (or libyaml with no place at all). Each must be a `path:line:col: message` problem,
and every command that reads a school file must exit 2 with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bromsync import cli
from engine.config.school import school_problems
from engine.config.yamlfile import load_yaml
from tests.helpers import REPO

EXAMPLE = (REPO / "schools" / "oakfield.yaml").read_text(encoding="utf-8")
NAME_LINE = "  name: Oakfield Primary School"


def _school(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "oakfield.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _name_line() -> int:
    return EXAMPLE.splitlines().index(next(x for x in EXAMPLE.splitlines() if NAME_LINE in x)) + 1


def _with(char: str) -> str:
    """The example school file with `char` after "Oakfield" in the school's name."""
    return EXAMPLE.replace("name: Oakfield ", f"name: Oakfield{char} ", 1)


COL = len("  name: Oakfield") + 1


@pytest.mark.parametrize(
    ("char", "said"),
    [
        ("\x00", "a NUL byte"),
        ("\x01", "the invisible character U+0001"),
        ("\x0b", "the invisible character U+000B"),
        ("\x1f", "the invisible character U+001F"),
        ("\x7f", "the invisible character U+007F"),
        ("\x9b", "the invisible character U+009B"),
        ("\ufffe", "the invisible character U+FFFE"),
    ],
    ids=["NUL", "x01", "x0b", "x1f", "DEL", "C1", "FFFE"],
)
def test_a_character_yaml_forbids_is_located(tmp_path: Path, char: str, said: str) -> None:
    path = _school(tmp_path, _with(char))
    [problem] = school_problems(path)
    assert (problem.line, problem.col) == (_name_line(), COL)
    assert problem.message.startswith(f"{said} is here")
    assert "delete it" in problem.message


def test_one_in_a_comment_is_located_too(tmp_path: Path) -> None:
    text = EXAMPLE.replace("# the DfE URN", "# the DfE\x00 URN", 1)
    [problem] = school_problems(_school(tmp_path, text))
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "\x00" in x)
    assert (problem.line, problem.col) == (line, text.splitlines()[line - 1].index("\x00") + 1)


def test_many_are_listed_five_then_counted(tmp_path: Path) -> None:
    text = "".join(f"k{i}: a\x01b\x02\n" for i in range(8))
    _, _, problems = load_yaml(_school(tmp_path, text))
    assert [(p.line, p.col) for p in problems] == [(n, len("k0: a") + 1) for n in range(1, 7)]
    assert problems[-1].message.startswith("this line and 2 more after it")


def test_text_that_is_not_utf8_is_located_at_the_byte(tmp_path: Path) -> None:
    text = EXAMPLE.replace("name: Oakfield Primary", "name: Oakfield Prim\xe9ry", 1)
    path = _school(tmp_path, text.encode("cp1252"))
    [problem] = school_problems(path)
    assert (problem.line, problem.col) == (_name_line(), len("  name: Oakfield Prim") + 1)
    assert "not UTF-8" in problem.message and "0xE9" in problem.message
    assert "save it as UTF-8" in problem.message


@pytest.mark.parametrize("bom", [True, False], ids=["with BOM", "without BOM"])
def test_utf16_is_named(tmp_path: Path, bom: bool) -> None:
    encoded = EXAMPLE.encode("utf-16" if bom else "utf-16-le")
    [problem] = school_problems(_school(tmp_path, encoded))
    assert (problem.line, problem.col) == (1, 1)
    assert "saved as UTF-16; save it as UTF-8" in problem.message


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    assert school_problems(_school(tmp_path, "\ufeff" + EXAMPLE)) == []


@pytest.mark.parametrize(
    "command",
    [["validate"], ["plan", "--offline"], ["run"], ["check"]],
    ids=["validate", "plan", "run", "check"],
)
def test_every_command_exits_2_with_the_located_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", "unused")
    monkeypatch.setenv("BROMSYNC_PARENTPAY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", "unused")
    monkeypatch.setenv("BROMSYNC_STATE_DIR", str(tmp_path / "state"))
    path = _school(tmp_path, _with("\x00"))
    result = CliRunner().invoke(cli, [*command, str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:{_name_line()}:{COL}: a NUL byte is here" in result.output
    assert "traceback" not in result.output.lower()
    assert not (tmp_path / "state").exists()
    # Nothing was planned; `run` still records the school's failure in run-results.json.
    written = {p.name for p in (tmp_path / "plans").glob("*")}
    assert written == ({"run-results.json"} if command == ["run"] else set())
