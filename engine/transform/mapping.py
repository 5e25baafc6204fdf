"""Mapping files: declarative specs that turn Bromcom entities into ParentPay records.

A mapping names a root entity, joins other entities to it by key, derives values with
JMESPath (`let`), decides which rows are uploaded (`include`, `consent`) and builds each
field of the record (`fields`); checks over the finished records are SQL, in `checks/`.
All JMESPath is compiled when the mapping loads, so a bad expression is a validation problem
with file, line and caret, never a failure half-way through a run. The language is described in `mappings/README.md`.

The engine knows no Bromcom column name: every one of them lives in `mappings/*.yaml`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jmespath
from jmespath.parser import ParsedResult

from engine.config.yamlfile import Locator, Problem, load_yaml, schema_problems
from engine.errors import MappingError
from engine.records import RECORD_FIELDS
from engine.shipped import mappings_dir, schemas_dir


@dataclass(frozen=True)
class Expr:
    """A compiled JMESPath expression and where it was written."""

    source: str
    compiled: ParsedResult
    where: str  # "path:line:col" of the expression, for runtime errors

    def search(self, document: Any, options: jmespath.Options) -> Any:
        return self.compiled.search(document, options=options)


@dataclass(frozen=True)
class FetchOnly:
    """A join's `fetch_only`: fetch only the rows whose `column` holds a value of `setting`.

    For data bromsync must not hold beyond what it sends (medical conditions not on
    dietary.allow): the source is asked for those rows alone, and for none when the school's
    list is empty (docs/personal-data.md).
    """

    column: str
    setting: str  # a list-valued setting() name, e.g. dietary_allow


@dataclass(frozen=True)
class Join:
    """Rows of another entity attached to each document under `name`."""

    name: str
    entity: str
    match: tuple[tuple[str, str], ...]  # (column of the joined entity, column of the parent)
    many: bool
    order_by: tuple[str, ...]
    joins: tuple[Join, ...] = ()
    fetch_only: FetchOnly | None = None


@dataclass(frozen=True)
class Mapping:
    """One upload type's mapping, compiled."""

    path: Path
    type: str
    option: str
    entity: str
    id: Expr
    joins: tuple[Join, ...]
    lets: tuple[tuple[str, Expr], ...]
    include: tuple[tuple[str, Expr], ...]
    consent: Expr | None
    fields: tuple[tuple[str, Expr], ...]

    def entities(self) -> list[str]:
        """Every entity this mapping reads, root first, each once."""
        seen: list[str] = [self.entity]

        def walk(joins: Iterable[Join]) -> None:
            for join in joins:
                if join.entity not in seen:
                    seen.append(join.entity)
                walk(join.joins)

        walk(self.joins)
        return seen

    def reads(self) -> list[tuple[str, FetchOnly | None]]:
        """Every read of an entity, root first: the entity, and the fetch_only it declares."""
        out: list[tuple[str, FetchOnly | None]] = [(self.entity, None)]

        def walk(joins: Iterable[Join]) -> None:
            for join in joins:
                out.append((join.entity, join.fetch_only))
                walk(join.joins)

        walk(self.joins)
        return out


class _Compiler:
    """Compiles the expressions of one mapping document, collecting every problem."""

    def __init__(self, path: Path, locator: Locator) -> None:
        self.path = path
        self.locator = locator
        self.problems: list[Problem] = []

    def expr(self, value: Any, at: tuple[str | int, ...]) -> Expr | None:
        line, col = self.locator(at)
        dotted = ".".join(str(part) for part in at)
        if not isinstance(value, str) or not value.strip():
            self.problems.append(
                Problem(str(self.path), line, col, f"{dotted}: expected a JMESPath expression")
            )
            return None
        try:
            compiled = jmespath.compile(value)
        except jmespath.exceptions.ParseError as exc:
            if isinstance(exc, jmespath.exceptions.IncompleteExpressionError):
                why = "the expression ends too early"
            elif exc.token_value is not None:
                why = f"unexpected {exc.token_value!r}"
            else:
                why = exc.msg
            caret = _caret(value, exc.lex_position)
            self.problems.append(
                Problem(str(self.path), line, col, f"{dotted}: invalid JMESPath, {why}:\n{caret}")
            )
            return None
        return Expr(value, compiled, f"{self.path}:{line}:{col}")

    def joins(self, spec: MappingABC[str, Any], at: tuple[str | int, ...]) -> tuple[Join, ...]:
        out = []
        for name, join in spec.items():
            out.append(
                Join(
                    name=name,
                    entity=join["entity"],
                    match=tuple((k, v) for k, v in join["match"].items()),
                    many=bool(join.get("many", False)),
                    order_by=tuple(join.get("order_by", ())),
                    joins=self.joins(join.get("joins", {}), (*at, name, "joins")),
                    fetch_only=(
                        FetchOnly(join["fetch_only"]["column"], join["fetch_only"]["in_setting"])
                        if "fetch_only" in join
                        else None
                    ),
                )
            )
        return tuple(out)

    def named(self, spec: MappingABC[str, Any], key: str) -> tuple[tuple[str, Expr], ...]:
        out = []
        for name, source in spec.get(key, {}).items():
            compiled = self.expr(source, (key, name))
            if compiled is not None:
                out.append((name, compiled))
        return tuple(out)


def _caret(expression: str, position: int | None) -> str:
    flat = " ".join(expression.split("\n"))
    pos = len(flat) if position is None else min(position, len(flat))
    return f"    {flat}\n    {' ' * pos}^"


def _load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((schemas_dir() / "mapping.schema.json").read_text())
    return schema


def compile_mapping(path: Path) -> tuple[Mapping | None, list[Problem]]:
    """Load, validate and compile one mapping file; every problem is returned, located."""
    data, locator, problems = load_yaml(path)
    if problems:
        return None, problems
    problems = schema_problems(data, locator, _load_schema(), path)
    if problems:
        return None, problems
    compiler = _Compiler(path, locator)
    record_type = data["type"]
    expected = set(RECORD_FIELDS[record_type])
    given = set(data["fields"])
    line, col = locator(("fields",))
    for name in sorted(expected - given):
        compiler.problems.append(
            Problem(str(path), line, col, f"fields: missing '{name}', a {record_type} field")
        )
    for name in sorted(given - expected):
        fl, fc = locator(("fields", name))
        compiler.problems.append(
            Problem(
                str(path),
                fl,
                fc,
                f"fields: '{name}' is not a ParentPay {record_type} field; "
                f"the fields are: {', '.join(RECORD_FIELDS[record_type])}",
            )
        )
    root = data["source"]
    mapping = Mapping(
        path=path,
        type=record_type,
        option=data["option"],
        entity=root["entity"],
        id=compiler.expr(root["id"], ("source", "id")),  # type: ignore[arg-type]
        joins=compiler.joins(data.get("joins", {}), ("joins",)),
        lets=compiler.named(data, "let"),
        include=compiler.named(data, "include"),
        consent=compiler.expr(data["consent"], ("consent",)) if "consent" in data else None,
        fields=compiler.named(data, "fields"),
    )
    if compiler.problems:
        return None, sorted(compiler.problems, key=lambda p: (p.line, p.col))
    return mapping, []


def load_mapping(path: Path) -> Mapping:
    """A compiled mapping, or MappingError listing every problem of the file."""
    mapping, problems = compile_mapping(path)
    if mapping is None:
        lines = [str(p) for p in problems]
        raise MappingError(f"the mapping {path} is invalid:\n" + "\n".join(lines), problems=lines)
    return mapping


def load_mappings(options: Iterable[str], folder: Path | None = None) -> list[Mapping]:
    """The mappings of a school's upload options (`mappings/<option>.yaml`), in that order."""
    folder = folder or mappings_dir()
    out = []
    for option in options:
        path = folder / f"{option}.yaml"
        if not path.exists():
            raise MappingError(f"no mapping for upload option '{option}': {path} does not exist")
        mapping = load_mapping(path)
        if mapping.option != option:
            raise MappingError(
                f"{path} declares option '{mapping.option}' but is the file for '{option}'"
            )
        out.append(mapping)
    return out
