"""Mapping files: declarative specs that turn Bromcom entities into ParentPay records.

A mapping names a root entity, joins other entities to it by key, derives values with
JMESPath (`let`), decides which rows are uploaded (`include`, `consent`) and builds each
field of the record (`fields`); checks over the finished records are SQL, in `checks/`.
All JMESPath is compiled when the mapping loads, so a bad expression is a validation problem
with file, line and caret, never a failure half-way through a run. The language is described in `mappings/README.md`.

The engine knows no Bromcom column name: every one of them lives in `mappings/*.yaml`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jmespath
from jmespath.parser import ParsedResult

from engine.config.yamlfile import Locator, Problem, load_yaml, schema_problems
from engine.errors import MappingError
from engine.records import RECORD_FIELDS
from engine.shipped import mappings_dir, schemas_dir
from engine.transform.columns import catalogue_problems
from engine.transform.compiler import Run, compile_expression
from engine.transform.functions import MappingFunctions

# Every function a mapping expression may call: JMESPath's own and bromsync's.
FUNCTIONS = frozenset(MappingFunctions.FUNCTION_TABLE)


@dataclass(frozen=True)
class Expr:
    """A compiled JMESPath expression and where it was written."""

    source: str
    compiled: ParsedResult
    where: str  # "path:line:col" of the expression, for runtime errors
    # The (line, col) in the file of each character of `source`; None for white space, and
    # empty when the file's text could not be followed (see _char_positions).
    positions: tuple[tuple[int, int] | None, ...] = ()
    # The expression as a Python closure (engine/transform/compiler.py): what transform runs.
    run: Run = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "run", compile_expression(self.compiled.parsed))

    def search(self, document: Any, options: jmespath.Options) -> Any:
        """The interpreter's result: what `run` gives, the slow way (kept to compare)."""
        return self.compiled.search(document, options=options)

    def where_at(self, offset: int | None) -> str:
        """ "path:line:col" of the character at `offset` in `source`, else of the expression."""
        found = (
            self.positions[offset] if offset is not None and offset < len(self.positions) else None
        )
        if found is None:
            return self.where
        path = self.where.rsplit(":", 2)[0]
        return f"{path}:{found[0]}:{found[1]}"


@dataclass(frozen=True)
class JoinPlaces:
    """Where each part of a join was written ("path:line:col"), for messages about its columns."""

    entity: str = ""
    match: tuple[tuple[str, str], ...] = ()  # per match pair: (the joined column, the parent's)
    order_by: tuple[str, ...] = ()


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
    places: JoinPlaces = field(default_factory=JoinPlaces)
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
    entity_where: str = ""  # "path:line:col" of source.entity

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

    def __init__(self, path: Path, locator: Locator, lines: list[str]) -> None:
        self.path = path
        self.locator = locator
        self.lines = lines
        self.problems: list[Problem] = []

    def where(self, line: int, col: int) -> str:
        return f"{self.path}:{line}:{col}"

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
        positions = _char_positions(self.lines, line, col, value)
        unknown = [n for n in _called(compiled.parsed) if n not in FUNCTIONS]
        for name in dict.fromkeys(unknown):
            # JMESPath looks a function up only when it runs: a misspelt one must fail here.
            offset = value.find(f"{name}(")
            known = positions[offset] if 0 <= offset < len(positions) else None
            fl, fc = known or (line, col)
            close = difflib.get_close_matches(name, sorted(FUNCTIONS), n=1)
            hint = f"did you mean {close[0]}()? " if close else ""
            self.problems.append(
                Problem(
                    str(self.path),
                    fl,
                    fc,
                    f"{dotted}: unknown function {name}(); {hint}"
                    "the functions are listed in mappings/README.md",
                )
            )
        if unknown:
            return None
        return Expr(value, compiled, self.where(line, col), positions)

    def joins(self, spec: MappingABC[str, Any], at: tuple[str | int, ...]) -> tuple[Join, ...]:
        out = []
        for name, join in spec.items():
            here = (*at, name)
            places = JoinPlaces(
                entity=self.where(*self.locator((*here, "entity"))),
                match=tuple(
                    (
                        self.where(*self.locator.key((*here, "match", k))),
                        self.where(*self.locator((*here, "match", k))),
                    )
                    for k in join["match"]
                ),
                order_by=tuple(
                    self.where(*self.locator((*here, "order_by", i)))
                    for i in range(len(join.get("order_by", ())))
                ),
            )
            out.append(
                Join(
                    name=name,
                    entity=join["entity"],
                    match=tuple((k, v) for k, v in join["match"].items()),
                    many=bool(join.get("many", False)),
                    order_by=tuple(join.get("order_by", ())),
                    joins=self.joins(join.get("joins", {}), (*here, "joins")),
                    places=places,
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


def _char_positions(
    lines: list[str], line: int, col: int, source: str
) -> tuple[tuple[int, int] | None, ...]:
    """Where in the file each character of an expression was written, from the value's start.

    YAML folds a multi-line value (`>-`, or a plain scalar over several lines) and strips its
    indentation, so only white space differs between the value and the file's text: each other
    character is found in order. Empty when that fails (an escape in a quoted value).
    """
    row, at = line - 1, col - 1
    if row >= len(lines):
        return ()
    start = lines[row][at : at + 1]
    if start in (">", "|"):  # a block scalar starts on the next line, after any comment
        row, at = row + 1, 0
    elif start in ('"', "'"):
        at += 1
    out: list[tuple[int, int] | None] = []
    for char in source:
        if char.isspace():
            out.append(None)
            continue
        while row < len(lines) and (at >= len(lines[row]) or lines[row][at].isspace()):
            if at >= len(lines[row]):
                row, at = row + 1, 0
            else:
                at += 1
        if row >= len(lines) or lines[row][at] != char:
            return ()
        out.append((row + 1, at + 1))
        at += 1
    return tuple(out)


def _caret(expression: str, position: int | None) -> str:
    flat = " ".join(expression.split("\n"))
    pos = len(flat) if position is None else min(position, len(flat))
    return f"    {flat}\n    {' ' * pos}^"


def _load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((schemas_dir() / "mapping.schema.json").read_text())
    return schema


def _called(node: dict[str, Any]) -> Iterator[str]:
    """The name of every function an expression's syntax tree calls."""
    if node.get("type") == "function_expression":
        yield str(node["value"])
    for child in node.get("children", ()):
        if isinstance(child, dict):
            yield from _called(child)


def compile_mapping(path: Path) -> tuple[Mapping | None, list[Problem]]:
    """Load, validate and compile one mapping file; every problem is returned, located."""
    data, locator, problems = load_yaml(path)
    if problems:
        return None, problems
    problems = schema_problems(data, locator, _load_schema(), path)
    if problems:
        return None, problems
    compiler = _Compiler(path, locator, path.read_text(encoding="utf-8-sig").splitlines())
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
        entity_where=compiler.where(*locator(("source", "entity"))),
    )
    if not compiler.problems:
        # Every entity and column it names must be one docs/bromcom.md's catalogue has.
        compiler.problems += catalogue_problems(mapping)
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
