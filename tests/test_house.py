"""The house rules the linters keep: YAML as .yamllint.yaml says, the engine's imports as
.importlinter says, and no file of the project naming one machine's folders.

yamllint and import-linter come with the README's test command (`pip install '.[test]'`); a
missing one fails here rather than being skipped, so that the rules cannot lapse silently.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_tool(what: str, *args: str) -> None:
    """Run `python *args` from the repository root; fail with the tool's output if it fails."""
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        hint = ""
        if "No module named" in result.stderr:
            hint = " (it is installed by the README's test command: pip install '.[test]')"
        pytest.fail(f"{what} failed{hint}:\n{result.stdout}{result.stderr}", pytrace=False)


def test_yaml_passes_yamllint() -> None:
    args = ["-m", "yamllint", "-c", ".yamllint.yaml", "-f", "parsable", "."]
    run_tool("yamllint -c .yamllint.yaml .", *args)


def test_engine_imports_keep_the_importlinter_contracts() -> None:
    # lint-imports as the console script runs it, with the interpreter running the tests.
    code = (
        "from importlinter.cli import lint_imports_command; "
        "lint_imports_command.main(['--no-cache', '--no-logo'], prog_name='lint-imports')"
    )
    run_tool("lint-imports (.importlinter)", "-c", code)


# A folder of one machine, used as a path: the root of a work area or a home directory, a
# named folder in the temporary directory, a Windows user's folder. The slash before it must
# not follow a word character, so URLs (https://host/home/...) and relative paths are not hits.
_SEP = r"(?:\\\\|\\|/)"
MACHINE_PATH = re.compile(
    r"(?<![\w.~-])/(?:work|root)/"
    r"|(?<![\w.~-])/(?:home|Users|tmp)/[\w.-]+/"
    rf"|\b[A-Za-z]:{_SEP}Users{_SEP}",
)


def project_files() -> list[str]:
    """Every file git tracks, or would track (untracked but not ignored)."""
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"git ls-files failed in {ROOT}:\n{result.stderr}"
    return sorted({name for name in result.stdout.split("\0") if name})


def test_no_file_holds_an_absolute_path_of_one_machine() -> None:
    hits = []
    for name in project_files():
        path = ROOT / name
        if not path.is_file():  # listed by git but deleted in the working tree
            continue
        data = path.read_bytes()
        if b"\0" in data:  # binary
            continue
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if MACHINE_PATH.search(line):
                hits.append(f"{name}:{number}: {line.strip()}")
    assert not hits, (
        "these lines name a folder of one machine; write paths relative to the repository "
        "(commands run from its root, with the README's .venv):\n" + "\n".join(hits)
    )


def test_the_version_bromsync_reports_is_the_installed_one() -> None:
    # Results files and --version read engine.__version__ (importing importlib.metadata cost
    # every run 30 ms); pyproject.toml takes its version from there, so the two are one.
    import importlib.metadata

    from engine import __version__

    assert __version__ == importlib.metadata.version("bromsync")
