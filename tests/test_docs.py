"""The README and --help stay true: every documented command exists and explains itself."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bromsync import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], click.Command]:
    out: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        out[(*prefix, name)] = command
        if isinstance(command, click.Group):
            out.update(_commands(command, (*prefix, name)))
    return out


COMMANDS = _commands(cli)


def test_every_readme_command_exists() -> None:
    documented = set(re.findall(r"`bromsync ((?:[a-z][a-z-]*)(?: (?:bromcom|parentpay))?)", README))
    assert documented, "the README documents no commands"
    missing = {name for name in documented if tuple(name.split()) not in COMMANDS}
    assert not missing, f"README documents commands that do not exist: {sorted(missing)}"


def test_every_command_is_in_the_readme() -> None:
    for path in COMMANDS:
        assert (
            f"bromsync {' '.join(path)}" in README
        ), f"bromsync {' '.join(path)} is not in the README"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert COMMANDS[path].help and len(COMMANDS[path].help) > 20


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "test-command" in ci
    assert re.search(
        r"<!-- test-command -->\s*```sh\s*\n.+pytest.*\n```\s*<!-- /test-command -->", README
    )
