"""YAML files people edit by hand: parsed with every node located, validated with messages
that say what to change and where (`path:line:col: message`).

Nothing here knows about schools or mappings: `schema_problems` takes any JSON Schema
(draft 2020-12) and words its errors from the schema's own `description`s, so the words a
person reads live next to the rule they broke.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import (
    ValidationError,
    best_match,
    relevance,
)

JsonPath = tuple[str | int, ...]
Position = tuple[int, int]

# A billion-laughs file (aliases of aliases) would expand without end; no hand-written
# config comes anywhere near this many nodes.
_MAX_NODES = 200_000
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file, at a 1-based line and column."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


@dataclass
class Locator:
    """Where each node of a loaded file was written.

    `locator(path)` is the position of the value at that JSON path (a tuple of keys and list
    indices); for a path that does not exist (a missing key) it is the position of the
    nearest existing parent. `locator.key(path)` is the position of the key itself, which is
    where a misspelt or unexpected key should be pointed at.
    """

    values: dict[JsonPath, Position] = field(default_factory=dict)
    keys: dict[JsonPath, Position] = field(default_factory=dict)

    def __call__(self, path: Iterable[str | int]) -> Position:
        path = tuple(path)
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def key(self, path: Iterable[str | int]) -> Position:
        path = tuple(path)
        return self.keys[path] if path in self.keys else self(path)


def load_yaml(path: Path) -> tuple[Any, Locator, list[Problem]]:
    """Parse a YAML file safely, locating every node; never raises for a bad file.

    Returns the data (None when the file cannot be parsed), its locator and the problems
    found while reading: an unreadable file (at 1:1), a syntax error (where PyYAML stopped),
    duplicate keys (each repeat, at the repeat; the last value wins, as in PyYAML) and keys
    that are not plain text. Keys are always strings, as written: `1:` is the key "1" and
    `on:` the key "on", never an int or a bool.
    """
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, Locator(), [Problem(where, 1, 1, f"cannot read the file: {exc.strerror}")]
    text, problems = _decode(where, raw)
    if text is None or problems:
        return None, Locator(), problems
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError:
        # libyaml's messages are terser ("found character that cannot start any token"):
        # read a broken file again with PyYAML's own parser, which says which character.
        loader.dispose()
        loader = yaml.SafeLoader(text)
        try:
            loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            return None, Locator(), [_syntax_problem(where, exc)]
        except yaml.YAMLError as exc:  # only marked errors are expected; keep any other readable
            return None, Locator(), [Problem(where, 1, 1, f"invalid YAML: {exc}")]
        return None, Locator(), [Problem(where, 1, 1, "invalid YAML")]
    finally:
        loader.dispose()
    builder = _Builder(where, loader)
    if node is None:
        return None, builder.locator, []
    try:
        data = builder.build(node, ())
    except _TooBig:
        too_big = Problem(where, 1, 1, "the file has too many nodes or aliases")
        return None, builder.locator, [too_big]
    return data, builder.locator, builder.problems


# The characters YAML allows anywhere in a file, comments included (YAML 1.1, 5.1, as
# PyYAML checks them): tab, line breaks and printable text. A NUL byte or another control
# character pasted from elsewhere is invisible in most editors, so it is found here and
# located; PyYAML would say "position 388" and libyaml nothing at all.
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SHOWN = 5  # lines with such characters listed one by one; the rest are counted
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SAVE_AS_UTF8 = "save it as UTF-8 (in most editors: Save As, Encoding: UTF-8)"


def _decode(where: str, raw: bytes) -> tuple[str | None, list[Problem]]:
    """The file's text, or where it stops being UTF-8 text that YAML can hold."""
    if raw.startswith(_UTF16_BOMS) or (len(raw) > 1 and raw.count(0) * 3 > len(raw)):
        # UTF-16 (Windows Notepad's "Unicode"): with a mark it is not UTF-8 at all, without
        # one every other byte is a NUL.
        return None, [Problem(where, 1, 1, f"the file is saved as UTF-16; {_SAVE_AS_UTF8}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8-sig", "replace")) + 1
        byte = raw[exc.start]
        return None, [
            Problem(
                where,
                line,
                col,
                f"the file is not UTF-8 text: the byte 0x{byte:02X} here is not UTF-8 (the "
                f"file was probably saved as Windows-1252 or Latin-1); {_SAVE_AS_UTF8}",
            )
        ]
    return text, _character_problems(where, text)


def _character_problems(where: str, text: str) -> list[Problem]:
    """One problem per line that holds a character YAML does not allow, at its first one."""
    first: dict[int, tuple[int, str]] = {}  # line -> (column, character)
    for line, content in enumerate(text.split("\n"), 1):
        found = _NOT_YAML.search(content)
        if found:
            first[line] = (found.start() + 1, found.group())
    problems = []
    for line, (col, char) in list(first.items())[:_SHOWN]:
        code = ord(char)
        name = "a NUL byte" if code == 0 else f"the invisible character U+{code:04X}"
        message = (
            f"{name} is here, which a YAML file must not hold (not even in a comment); "
            "delete it (most editors do not show it: retype the line if need be)"
        )
        problems.append(Problem(where, line, col, message))
    if len(first) > _SHOWN:
        line, (col, _) = list(first.items())[_SHOWN]
        more = len(first) - _SHOWN
        message = (
            f"this line and {more - 1} more after it hold such characters too; if the file "
            f"came from a word processor or another tool, {_SAVE_AS_UTF8}"
        )
        problems.append(Problem(where, line, col, message))
    return problems


def _pos(mark: yaml.Mark) -> Position:
    return mark.line + 1, mark.column + 1


def _syntax_problem(where: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = (exc.problem or "").strip()
    message = f"invalid YAML: {problem}"
    if exc.context and exc.context_mark and exc.context_mark is not mark:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    if "\\t" in problem:
        message += "; indent with spaces, never tabs"
    elif "mapping values are not allowed" in problem:
        message += "; check the indentation, and put text that contains ': ' in quotes"
    elif "could not find expected ':'" in problem or "expected <block end>" in problem:
        message += "; check the indentation of this line and the one before"
    return Problem(where, line, col, message)


class _TooBig(Exception):
    """More nodes than any hand-written file has: an alias bomb."""


# libyaml's parser when PyYAML was built with it (several times faster; same nodes and marks).
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Builder:
    """Turns composed YAML nodes into Python data, recording where each node was written."""

    def __init__(self, where: str, loader: yaml.SafeLoader) -> None:
        self.where = where
        self.loader = loader
        self.locator = Locator()
        self.problems: list[Problem] = []
        self.count = 0

    def _problem(self, mark: yaml.Mark, message: str) -> None:
        self.problems.append(Problem(self.where, *_pos(mark), message))

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise _TooBig
        self.locator.values.setdefault(path, _pos(node.start_mark))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self._problem(node.start_mark, f"the YAML tag {node.tag} is not supported here")
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self._problem(node.start_mark, f"invalid YAML: {exc.problem}")
            return None

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            self._problem(node.start_mark, f"the YAML tag {node.tag} is not supported here")
        out: dict[str, Any] = {}
        first: dict[str, yaml.Mark] = {}
        for key_node, value_node in self._pairs(node):
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node.start_mark, "a key must be plain text, not a list")
                continue
            key = key_node.value
            if key in first and key_node.start_mark is not first[key]:
                self._problem(
                    key_node.start_mark,
                    f"duplicate key '{key}' in {dotted(path)} (first at line "
                    f"{first[key].line + 1}); keep only one of them",
                )
            first.setdefault(key, key_node.start_mark)
            child = (*path, key)
            self.locator.keys[child] = _pos(key_node.start_mark)
            # A repeated key replaces the earlier value (PyYAML's rule), position included.
            self.locator.values.pop(child, None)
            out[key] = self.build(value_node, child)
        return out

    def _pairs(self, node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        """The node's own pairs, with `<<: *anchor` merges expanded first (own keys win)."""
        own = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                own.append((key_node, value_node))
                continue
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    merged_keys = {k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
                    yield from (
                        (k, v) for k, v in self._pairs(source) if k.value not in merged_keys
                    )
                else:
                    self._problem(source.start_mark, "'<<' must merge a mapping")
        yield from own


# -- schema validation ------------------------------------------------------------------

_TYPE_WORDS = {
    "integer": "a whole number", "number": "a number", "string": "text",
    "boolean": "true or false", "array": "a list", "null": "nothing",
    "object": "a mapping (indented key: value lines)",
}  # fmt: skip
_BOUNDS = {
    "minimum": "at least", "exclusiveMinimum": "more than",
    "maximum": "at most", "exclusiveMaximum": "less than",
}  # fmt: skip


def schema_problems(
    data: Any, locator: Locator, schema: dict[str, Any], path: Path
) -> list[Problem]:
    """Every way `data` breaks `schema`, located and worded for the person editing the file.

    Problems are in file order; several at one place come best first (jsonschema's
    `relevance`). Where one node has the wrong type, only that is said about it: its other
    errors follow from it.
    """
    validator = Draft202012Validator(schema)
    errors = [_best_leaf(e) for e in validator.iter_errors(data)]
    wrong_type = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    errors = [
        e for e in errors if e.validator == "type" or tuple(e.absolute_path) not in wrong_type
    ]
    errors.sort(key=_rank, reverse=True)
    problems: list[tuple[Position, Problem]] = []
    for error in errors:
        for (line, col), message in _explain(error, locator, schema):
            problems.append(((line, col), Problem(str(path), line, col, message)))
    problems.sort(key=lambda item: item[0])  # stable: best first stays first at one place
    return [p for _, p in problems]


def _best_leaf(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf, the branch error that says most (what best_match picks)."""
    return best_match([error]) or error


def _rank(error: ValidationError) -> Any:
    # relevance() without its path terms: errors compared here are all at one node.
    return relevance(error)[2:]


def dotted(path: Iterable[str | int]) -> str:
    """`upload.options[1]`, `aliases["Year 2"]`: a JSON path written the way the YAML reads."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.match(part):
            out += f"[{json.dumps(part)}]"
        else:
            out += f".{part}" if out else part
    return out or "the file"


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        merged = dict(_resolve(target, root))
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        return merged
    return schema


def _summary(schema: dict[str, Any], root: dict[str, Any]) -> str:
    """The first sentence of a schema's description: what the key is, in a few words."""
    text = str(_resolve(schema, root).get("description", "")).strip()
    # A sentence ends at ". " but not inside "e.g. " or "i.e. ".
    return re.split(r"(?<!e\.g)(?<!i\.e)[.;]\s", text, maxsplit=1)[0].rstrip(".;")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _choices(values: Iterable[Any]) -> list[str]:
    """Allowed values as a person types them; 1 and "1" are one choice."""
    seen: dict[str, None] = {}
    for v in values:
        seen.setdefault(str(v) if not isinstance(v, bool) else _show(v), None)
    return list(seen)


def _suggestion(key: str, allowed: list[str]) -> str | None:
    """The allowed key a misspelt one most likely meant, if any is close enough."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def _explain(
    error: ValidationError, locator: Locator, root: dict[str, Any]
) -> list[tuple[Position, str]]:
    at = tuple(error.absolute_path)
    where = dotted(at)
    value = error.instance
    kind = error.validator
    schema = _resolve(error.schema, root) if isinstance(error.schema, dict) else {}
    rule = error.validator_value

    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = list(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        out = []
        for key in value:
            if key in allowed or any(re.search(p, key) for p in patterns):
                continue
            message = f"unknown key '{key}' in {where}"
            close = _suggestion(key, allowed)
            if close:
                message += f"; did you mean '{close}'?"
            elif allowed:
                message += f"; the keys allowed there are: {', '.join(allowed)}"
            out.append((locator.key((*at, key)), message))
        return out
    if kind == "required":
        missing = next(
            (k for k in rule if k not in value and error.message.startswith(repr(k))), str(rule)
        )
        allowed = list(schema.get("properties", {}))
        if any(_suggestion(key, allowed) == missing for key in value if key not in allowed):
            return []  # a misspelt key's "did you mean" already names it: say it once
        described = _summary(schema.get("properties", {}).get(missing, {}), root)
        message = f"{where} is missing '{missing}'" + (f" ({described})" if described else "")
        return [(locator.key(at), message)]

    pos = locator(at)
    if kind == "type":
        types = [rule] if isinstance(rule, str) else list(rule)
        expected = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        if not at and value is None:
            return [(pos, f"the file is empty; expected {expected}")]
        message = f"{where}: expected {expected}, got {_show(value)}"
        if types == ["string"] and isinstance(value, (int, float, bool)):
            message += f' (put it in quotes: "{_show(value)}")'
        elif set(types) <= {"integer", "number"} and isinstance(value, str) and _is_number(value):
            message += f" (remove the quotes: {value.strip()})"
        elif types == ["array"] and isinstance(value, (str, int, float)):
            message += f" (write a list, even of one: [{value}])"
        return [(pos, message)]
    if kind in ("enum", "const"):
        allowed = _choices(rule if kind == "enum" else [rule])
        near = difflib.get_close_matches(value, allowed, 1) if isinstance(value, str) else []
        advice = (
            f"did you mean '{near[0]}'? (allowed: {', '.join(allowed)})"
            if near
            else f"use one of: {', '.join(allowed)}"
        )
        return [(pos, f"{where}: {_show(value)} is not allowed; {advice}")]
    if kind == "minItems":
        items = (
            _resolve(schema.get("items", {}), root) if isinstance(schema.get("items"), dict) else {}
        )
        need = "at least one item" if rule == 1 else f"at least {rule} items"
        message = f"{where} must list {need}"
        if "enum" in items:
            message += f" from: {', '.join(_choices(items['enum']))}"
        return [(pos, message)]
    if kind == "uniqueItems" and isinstance(value, list):
        # json.dumps tells 1 from true and "1", as uniqueItems does.
        seen = [json.dumps(item, sort_keys=True, default=str) for item in value]
        repeated = next((i for i, item in enumerate(seen) if item in seen[:i]), 0)
        return [(pos, f"{where} lists {_show(value[repeated])} more than once; keep one")]
    if kind in _BOUNDS:
        return [(pos, f"{where} must be {_BOUNDS[kind]} {rule}, got {_show(value)}")]
    if kind == "minLength" and rule == 1:
        return [(pos, f"{where} must not be empty")]
    if kind in ("pattern", "format"):
        # The value is not repeated: a password pasted into the wrong key must not be
        # echoed into CI logs, and the line:col already points at it.
        rules = _summary(schema, root)
        return [(pos, f"{where} is not in the right form" + (f": {rules}" if rules else ""))]
    return [(pos, f"{where}: {error.message}")]
