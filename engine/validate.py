"""`bromsync validate`: school files and mapping files, every problem located."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.config import load_school, school_problems
from engine.errors import ConfigError
from engine.mapping import compile_mapping, mappings_dir
from engine.yamlfile import Problem, load_yaml


def _is_mapping_file(path: Path) -> bool:
    data, _, problems = load_yaml(path)
    if problems or not isinstance(data, dict):
        return path.parent.name == "mappings"
    return "school" not in data and ("source" in data or "fields" in data)


def validate_files(paths: Sequence[Path]) -> tuple[list[Problem], int]:
    """Every problem of the given files, and of the mappings their school files enable.

    Returns the problems (file order, then position) and how many files were checked.
    """
    problems: list[Problem] = []
    mappings: dict[Path, None] = {}
    checked = 0
    for path in paths:
        checked += 1
        if _is_mapping_file(path):
            mappings.pop(path.resolve(), None)
            problems += compile_mapping(path)[1]
            continue
        found = school_problems(path)
        problems += found
        if not found:
            try:
                school = load_school(path)
            except ConfigError:
                continue
            for option in school.options:
                mappings.setdefault((mappings_dir() / f"{option}.yaml").resolve(), None)
    already = {p.resolve() for p in paths}
    for mapping in mappings:
        if mapping in already:
            continue
        checked += 1
        problems += compile_mapping(mapping)[1]
    return problems, checked
