"""Which Bromcom columns a mapping reads, found from its joins and its compiled JMESPath.

A join's `match` and `order_by` name their columns outright. An expression is walked over its
AST with scopes, as `engine.transform.transform` evaluates it: the root expressions on a row
of the root entity, where each join's name holds the joined row (or list of rows) and each
`let` name, from its own line on, holds what that let gave. `a.b` reads `b` in `a`'s scope; a
projection or filter (`a[*].x`, `a[?cond].x`) reads `cond` and `x` on each element of `a`; `|`
hands the left side's result to the right; `[0]`, `[]` and slices keep the element's scope;
function arguments are read in the current scope, and `sort_by`, `min_by`, `max_by` and `map`
read their `&expression` on the list's elements. Anything else yields a value whose columns
cannot be attributed (a literal, most functions' results, `*` over a row): nothing read from it
is checked or kept, which mappings/README.md says.

The reads are used three ways: `catalogue_problems` checks them against docs/bromcom.md's
catalogue (`bromsync validate`), `undeclared` against the columns Bromcom's answer declares (at
run time), and `columns_read` says which columns the state keeps of each raw table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from jmespath.lexer import Lexer

from engine.config.yamlfile import Problem
from engine.sources.catalogue import catalogue, closest, find_entity
from engine.transform.functions import MappingFunctions

if TYPE_CHECKING:
    from engine.transform.mapping import Expr, Join
    from engine.transform.mapping import Mapping as MappingFile


@dataclass(frozen=True)
class ColumnRead:
    """One place where a mapping reads one column of one entity."""

    entity: str  # as the mapping spells it
    column: str
    where: str  # "path:line:col"
    what: str  # the part of the mapping: "fields.payer_email", "joins.contacts.match"
    key: bool = False  # the root id's column or a join's match column


# -- scopes --------------------------------------------------------------------------------------


class _Row:
    """A row of `entity`: a column is read from it, or a name attached to it is followed."""

    __slots__ = ("entity", "names")

    def __init__(self, entity: str, names: dict[str, Scope]) -> None:
        self.entity = entity
        self.names = names  # join names (and, on the root row, let names) -> what they hold


@dataclass(frozen=True)
class _List:
    """A list whose every item is one of `item`."""

    item: Scope


@dataclass(frozen=True)
class _Object:
    """A multi-select hash `{k: expr}`: each key holds what its expression gave."""

    keys: tuple[tuple[str, Scope], ...]


@dataclass(frozen=True)
class _Tuple:
    """A multi-select list `[a, b]`: each position holds what its expression gave."""

    items: tuple[Scope, ...]


Shape = Union[_Row, _List, _Object, _Tuple]  # noqa: UP007 (a runtime alias, read by mypy)
# What a value may be: any one of these shapes; () when nothing of it can be attributed.
Scope = tuple[Shape, ...]


def _union(*scopes: Iterable[Shape]) -> Scope:
    return tuple(dict.fromkeys(shape for scope in scopes for shape in scope))


def _items(scope: Scope) -> Scope:
    """What the items of `scope` may be, where it is a list."""
    out: list[Shape] = []
    for shape in scope:
        if isinstance(shape, _List):
            out += shape.item
        elif isinstance(shape, _Tuple):
            for item in shape.items:
                out += item
    return _union(out)


def _as_list(scope: Scope) -> Scope:
    """`scope` where it is a list, as one list (what a slice or sort_by gives back)."""
    lists = [s for s in scope if isinstance(s, (_List, _Tuple))]
    return (_List(_items(tuple(lists))),) if lists else ()


# -- where each column was written -------------------------------------------------------------


def _identifier_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The AST nodes that were written as an identifier, in the order they were written."""
    kind = node["type"]
    if kind in ("field", "key_val_pair", "function_expression"):
        yield node  # a field, a multi-select key, a function's name
    children = [c for c in node.get("children", ()) if isinstance(c, dict)]
    if kind == "filter_projection":  # written `left[?condition].right`
        children = [node["children"][0], node["children"][2], node["children"][1]]
    for child in children:
        yield from _identifier_nodes(child)


def _offsets(expr: Expr) -> dict[int, int]:
    """id(node) -> offset in the expression of each field node; empty if they cannot be paired."""
    tokens = [
        t
        for t in Lexer().tokenize(expr.source)
        if t["type"] in ("unquoted_identifier", "quoted_identifier")
    ]
    nodes = list(_identifier_nodes(expr.compiled.parsed))
    if len(tokens) != len(nodes):
        return {}
    return {id(n): int(t["start"]) for n, t in zip(nodes, tokens, strict=True)}


# -- the walk ------------------------------------------------------------------------------------

# JMESPath's own functions whose result keeps their list argument's items, and the custom ones.
_KEEP_ITEMS = frozenset({"reverse", "sort"}) | MappingFunctions.KEEP_ITEMS
_BY = frozenset({"sort_by", "min_by", "max_by"})


class _Walk:
    """Reads of one expression, walked node by node with the scope each node is evaluated in."""

    def __init__(self, expr: Expr, what: str, key: bool, reads: list[ColumnRead]) -> None:
        self.expr = expr
        self.what = what
        self.key = key
        self.reads = reads
        self.offsets = _offsets(expr)

    def visit(self, node: dict[str, Any], scope: Scope) -> Scope:
        handler = getattr(self, "_" + node["type"], None)
        # A node type this walk does not know: its columns cannot be attributed, so none is.
        return handler(node, scope) if handler is not None else ()

    def _field(self, node: dict[str, Any], scope: Scope) -> Scope:
        name = node["value"]
        out: list[Shape] = []
        for shape in scope:
            if isinstance(shape, _Row):
                if name == "null" and name not in shape.names:
                    # A bare `null` is JMESPath for the key "null", which no row has: it is
                    # null, as mappings write it (`fsm_period != null`), and reads no column.
                    continue
                if name in shape.names:
                    out += shape.names[name]
                else:
                    where = self.expr.where_at(self.offsets.get(id(node)))
                    self.reads.append(ColumnRead(shape.entity, name, where, self.what, self.key))
            elif isinstance(shape, _Object):
                out += dict(shape.keys).get(name, ())
        return _union(out)

    def _subexpression(self, node: dict[str, Any], scope: Scope) -> Scope:
        for child in node["children"]:
            scope = self.visit(child, scope)
        return scope

    def _pipe(self, node: dict[str, Any], scope: Scope) -> Scope:
        left, right = node["children"]
        return self.visit(right, self.visit(left, scope))

    def _index_expression(self, node: dict[str, Any], scope: Scope) -> Scope:
        left, right = node["children"]
        found = self.visit(left, scope)
        if right["type"] == "slice":
            return _as_list(found)
        index = right["value"]
        out: list[Shape] = []
        for shape in found:
            if isinstance(shape, _List):
                out += shape.item
            elif isinstance(shape, _Tuple) and -len(shape.items) <= index < len(shape.items):
                out += shape.items[index]
        return _union(out)

    def _projection(self, node: dict[str, Any], scope: Scope) -> Scope:
        left, right = node["children"]
        items = _items(self.visit(left, scope))
        return (_List(self.visit(right, items)),) if items else ()

    def _filter_projection(self, node: dict[str, Any], scope: Scope) -> Scope:
        left, right, condition = node["children"]
        items = _items(self.visit(left, scope))
        if not items:
            return ()
        self.visit(condition, items)
        return (_List(self.visit(right, items)),)

    def _value_projection(self, node: dict[str, Any], scope: Scope) -> Scope:
        # `*` over an object: followed for a multi-select hash; over a row it would read every
        # column unnamed, which cannot be attributed.
        left, right = node["children"]
        values = [v for s in self.visit(left, scope) if isinstance(s, _Object) for _, v in s.keys]
        items = _union(*values)
        return (_List(self.visit(right, items)),) if items else ()

    def _flatten(self, node: dict[str, Any], scope: Scope) -> Scope:
        found = self.visit(node["children"][0], scope)
        items = _items(found)
        nested = [s for s in items if isinstance(s, (_List, _Tuple))]
        flat = _union(
            [s for s in items if not isinstance(s, (_List, _Tuple))], _items(tuple(nested))
        )
        return (_List(flat),) if any(isinstance(s, (_List, _Tuple)) for s in found) else ()

    def _or_expression(self, node: dict[str, Any], scope: Scope) -> Scope:
        return _union(*(self.visit(child, scope) for child in node["children"]))

    _and_expression = _or_expression

    def _not_expression(self, node: dict[str, Any], scope: Scope) -> Scope:
        self.visit(node["children"][0], scope)
        return ()

    def _comparator(self, node: dict[str, Any], scope: Scope) -> Scope:
        for child in node["children"]:
            self.visit(child, scope)
        return ()

    def _literal(self, node: dict[str, Any], scope: Scope) -> Scope:
        return ()

    def _current(self, node: dict[str, Any], scope: Scope) -> Scope:
        return scope

    _identity = _current

    def _multi_select_dict(self, node: dict[str, Any], scope: Scope) -> Scope:
        pairs = tuple(
            (kv["value"], self.visit(kv["children"][0], scope)) for kv in node["children"]
        )
        return (_Object(pairs),)

    def _multi_select_list(self, node: dict[str, Any], scope: Scope) -> Scope:
        return (_Tuple(tuple(self.visit(child, scope) for child in node["children"])),)

    def _expref(self, node: dict[str, Any], scope: Scope) -> Scope:
        # Outside the functions below, the elements it will be applied to are not known.
        self.visit(node["children"][0], ())
        return ()

    def _function_expression(self, node: dict[str, Any], scope: Scope) -> Scope:
        name, args = node["value"], node["children"]
        if name in _BY and len(args) == 2 and args[1]["type"] == "expref":
            found = self.visit(args[0], scope)
            self.visit(args[1]["children"][0], _items(found))
            return _as_list(found) if name == "sort_by" else _items(found)
        if name == "map" and len(args) == 2 and args[0]["type"] == "expref":
            items = _items(self.visit(args[1], scope))
            result = self.visit(args[0]["children"][0], items)
            return (_List(result),) if items else ()
        values = [self.visit(arg, scope) for arg in args]
        if name in _KEEP_ITEMS and values:
            return _as_list(values[0])
        if name == "not_null":
            return _union(*values)
        if name == "to_array" and values:
            lists = _as_list(values[0])
            others = tuple(s for s in values[0] if not isinstance(s, (_List, _Tuple)))
            return _union(lists, (_List(others),) if others else ())
        return ()


# -- a mapping's reads ---------------------------------------------------------------------------


def _join_reads(
    mapping: MappingFile, join: Join, parent: str, what: str, reads: list[ColumnRead]
) -> Scope:
    """Record a join's match and order_by columns; what its name holds on the parent row."""
    fallback = str(mapping.path)
    for i, (column, parent_column) in enumerate(join.match):
        at, parent_at = join.places.match[i] if i < len(join.places.match) else (fallback,) * 2
        reads.append(ColumnRead(join.entity, column, at, f"{what}.match", key=True))
        reads.append(ColumnRead(parent, parent_column, parent_at, f"{what}.match", key=True))
    for i, column in enumerate(join.order_by):
        at = join.places.order_by[i] if i < len(join.places.order_by) else fallback
        reads.append(ColumnRead(join.entity, column, at, f"{what}.order_by"))
    names = {
        sub.name: _join_reads(mapping, sub, join.entity, f"{what}.joins.{sub.name}", reads)
        for sub in join.joins
    }
    row = _Row(join.entity, names)
    return (_List((row,)),) if join.many else (row,)


def column_reads(mapping: MappingFile) -> list[ColumnRead]:
    """Every column of every entity `mapping` reads, where it reads it, in file order of parts."""
    reads: list[ColumnRead] = []
    names = {
        join.name: _join_reads(mapping, join, mapping.entity, f"joins.{join.name}", reads)
        for join in mapping.joins
    }
    root = _Row(mapping.entity, names)
    # The order transform evaluates them in: the id before any let, each let after the ones
    # above it, and the rest with every let.
    _Walk(mapping.id, "source.id", True, reads).visit(mapping.id.compiled.parsed, (root,))
    for name, expr in mapping.lets:
        root.names[name] = _Walk(expr, f"let.{name}", False, reads).visit(
            expr.compiled.parsed, (root,)
        )
    rest = [(f"include.{n}", e) for n, e in mapping.include]
    rest += [("consent", mapping.consent)] if mapping.consent is not None else []
    rest += [(f"fields.{n}", e) for n, e in mapping.fields]
    for what, expr in rest:
        _Walk(expr, what, False, reads).visit(expr.compiled.parsed, (root,))
    return reads


def columns_read(mappings: Iterable[MappingFile]) -> dict[str, set[str]]:
    """entity (in lower case) -> every column the mappings read of it, match columns included."""
    out: dict[str, set[str]] = {}
    for mapping in mappings:
        for read in column_reads(mapping):
            out.setdefault(read.entity.casefold(), set()).add(read.column)
    return out


# -- checks --------------------------------------------------------------------------------------


def _problem(where: str, message: str) -> Problem:
    path, line, col = where.rsplit(":", 2)
    return Problem(path, int(line), int(col), message)


def _entities(mapping: MappingFile) -> Iterator[tuple[str, str, str]]:
    """(entity, where it is named, which part names it) for the root and every join."""
    yield mapping.entity, mapping.entity_where or str(mapping.path) + ":1:1", "source.entity"

    def walk(joins: Sequence[Join], prefix: str) -> Iterator[tuple[str, str, str]]:
        for join in joins:
            what = f"{prefix}.{join.name}"
            yield join.entity, join.places.entity or mapping.entity_where, f"{what}.entity"
            yield from walk(join.joins, f"{what}.joins")

    yield from walk(mapping.joins, "joins")


def catalogue_problems(mapping: MappingFile) -> list[Problem]:
    """Every entity and column `mapping` names that docs/bromcom.md's catalogue does not have."""
    problems: list[Problem] = []
    spellings = [name for e in catalogue().values() for name in e.names()]
    for entity, where, what in _entities(mapping):
        if find_entity(entity) is None:
            near = closest(entity, spellings)
            hint = f"; did you mean '{near}'?" if near else ""
            problems.append(
                _problem(
                    where,
                    f"{what}: '{entity}' is not a Bromcom entity bromsync knows{hint} (the "
                    'entities and their columns are in docs/bromcom.md, "The catalogue")',
                )
            )
    seen: set[tuple[str, str]] = set()
    for read in column_reads(mapping):
        known = find_entity(read.entity)
        if known is None or read.column in known.columns or (read.where, read.column) in seen:
            continue
        seen.add((read.where, read.column))
        near = closest(read.column, list(known.columns))
        hint = f"; did you mean '{near}'?" if near else ""
        if read.column in ("true", "false"):  # JMESPath reads a bare true as the key "true"
            hint = f"; for the value {read.column}, write `{read.column}` in backticks"
        problems.append(
            _problem(
                read.where,
                f"{read.what}: {known.name} has no column '{read.column}'{hint} (the columns "
                'bromsync assumes are in docs/bromcom.md, "The catalogue")',
            )
        )
    return problems


def undeclared(
    mappings: Iterable[MappingFile], declared: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """Each column the mappings read that Bromcom's answer does not declare, once per mapping.

    `declared` maps each fetched entity (as the mappings name it) to the columns its inline
    schema declares. An entity whose answer declares no column at all (an empty DataSet with no
    table) has no row to read either, so it is not checked.
    """
    out: list[str] = []
    for mapping in mappings:
        seen: set[tuple[str, str]] = set()
        for read in column_reads(mapping):
            columns = declared.get(read.entity)
            if not columns or read.column in columns or (read.entity, read.column) in seen:
                continue
            seen.add((read.entity, read.column))
            near = closest(read.column, list(columns))
            hint = (
                f"did you mean {near}?"
                if near
                else f"the columns it declares are {', '.join(columns)}"
            )
            out.append(
                f"{read.where}: {read.what} reads {read.entity}.{read.column}, but Bromcom's "
                f"answer for {read.entity} has no column {read.column} ({hint})"
            )
    return out
