"""`bromsync validate`: school files and mapping files, every problem located."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.checks.packs import check_problems, school_check_problems
from engine.config.school import load_school, school_problems
from engine.config.yamlfile import Problem, load_yaml
from engine.errors import ConfigError
from engine.shipped import checks_dir, mappings_dir
from engine.transform.mapping import compile_mapping


def _kind(path: Path) -> str:
    """school, mapping or checks: by the file's top-level keys, else by its folder."""
    data, _, problems = load_yaml(path)
    if not problems and isinstance(data, dict) and "school" not in data:
        if "source" in data or "fields" in data:
            return "mapping"
        if "checks" in data:
            return "checks"
    return {"mappings": "mapping", "checks": "checks"}.get(path.parent.name, "school")


def _problems(path: Path, kind: str) -> list[Problem]:
    if kind == "mapping":
        return compile_mapping(path)[1]
    if kind == "checks":
        return check_problems(path)
    return school_problems(path)


def validate_files(paths: Sequence[Path]) -> tuple[list[Problem], int]:
    """Every problem of the given files, and of the mappings and check packs a run would use.

    Returns the problems (file order, then position) and how many files were checked.
    """
    problems: list[Problem] = []
    extra: dict[Path, str] = {}
    for path in paths:
        kind = _kind(path)
        found = _problems(path, kind)
        problems += found
        if kind != "school" or found:
            continue
        try:
            school = load_school(path)
        except ConfigError:
            continue
        problems += school_check_problems(school)
        for option in school.options:
            extra.setdefault((mappings_dir() / f"{option}.yaml").resolve(), "mapping")
        for pack in sorted(checks_dir().glob("*.yaml")):
            extra.setdefault(pack.resolve(), "checks")
    already = {p.resolve() for p in paths}
    todo = {path: kind for path, kind in extra.items() if path not in already}
    for path, kind in todo.items():
        problems += _problems(path, kind)
    return problems, len(paths) + len(todo)
