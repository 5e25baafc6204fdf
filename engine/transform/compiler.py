"""JMESPath compiled to Python closures, with the interpreter's results to the letter.

`jmespath` evaluates an expression by walking its syntax tree for every document: a dispatch per
node, a new interpreter per search and a signature check per function call that rebuilds its
type lists. A mapping runs some twenty expressions on each of thousands of rows, so the walk
was most of a run's mapping time. `compile_expression` turns the tree into nested closures once,
when the mapping loads; each is a line-for-line copy of the `TreeInterpreter` method of its node
type (jmespath/visitor.py), so the same document gives the same value, the same exception and
the same calls in the same order. A node type not compiled here is handed to the interpreter,
so nothing can differ (tests/engine/transform/test_compiler.py compares the two on the shipped
mappings' expressions).

A compiled expression is called as `run(document, functions)`: the functions (bound to one
school's settings and day) are passed in, never stored, as schools map on several threads.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from jmespath import functions as jp_functions
from jmespath.visitor import (
    Options,
    TreeInterpreter,
    _equals,
    _Expression,
    _is_actual_number,
    _is_comparable,
)

Run = Callable[[Any, jp_functions.Functions], Any]
Node = dict[str, Any]


def _is_false(value: Any) -> bool:
    # TreeInterpreter._is_false: equality, as JMESPath's truth is not Python's.
    return value == "" or value == [] or value == {} or value is None or value is False


def interpreted(node: Node) -> Run:
    """The interpreter itself, for a node type this module does not compile."""

    def run(value: Any, fns: jp_functions.Functions) -> Any:
        return TreeInterpreter(Options(custom_functions=fns)).visit(node, value)

    return run


def compile_expression(node: Node) -> Run:
    """`node` (a ParsedResult's `.parsed`) as a closure `run(document, functions)`."""
    compile_node = _COMPILERS.get(node["type"])
    if compile_node is None:
        return interpreted(node)
    return compile_node(node)


# -- paths ---------------------------------------------------------------------------------------


def _field_names(node: Node) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"] when the node is fields joined by dots alone, else None."""
    if node["type"] == "field":
        return [node["value"]]
    if node["type"] == "subexpression":
        names: list[str] = []
        for child in node["children"]:
            part = _field_names(child)
            if part is None:
                return None
            names += part
        return names
    return None


def _path(names: list[str]) -> Run:
    # visit_field on each: value.get(name), and None where value has no .get (None included,
    # whose every further field is None too).
    if len(names) == 1:
        (name,) = names

        def field(value: Any, fns: jp_functions.Functions) -> Any:
            try:
                return value.get(name)
            except AttributeError:
                return None

        return field
    if len(names) == 2:
        first, second = names

        def field2(value: Any, fns: jp_functions.Functions) -> Any:
            try:
                return value.get(first).get(second)
            except AttributeError:
                return None

        return field2

    def fields(value: Any, fns: jp_functions.Functions) -> Any:
        try:
            for name in names:
                value = value.get(name)
        except AttributeError:
            return None
        return value

    return fields


def _field(node: Node) -> Run:
    return _path([node["value"]])


def _chain(node: Node) -> Run:
    # subexpression, pipe and index_expression: each child on the result of the one before.
    names = _field_names(node) if node["type"] == "subexpression" else None
    if names is not None:
        return _path(names)
    steps = [compile_expression(child) for child in node["children"]]
    if len(steps) == 2:
        left, right = steps

        def chain2(value: Any, fns: jp_functions.Functions) -> Any:
            return right(left(value, fns), fns)

        return chain2

    def chain(value: Any, fns: jp_functions.Functions) -> Any:
        for step in steps:
            value = step(value, fns)
        return value

    return chain


def _index(node: Node) -> Run:
    at = node["value"]

    def index(value: Any, fns: jp_functions.Functions) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[at]
        except IndexError:
            return None

    return index


def _slice(node: Node) -> Run:
    part = slice(*node["children"])

    def sliced(value: Any, fns: jp_functions.Functions) -> Any:
        if not isinstance(value, list):
            return None
        return value[part]

    return sliced


def _current(node: Node) -> Run:
    def current(value: Any, fns: jp_functions.Functions) -> Any:
        return value

    return current


def _literal(node: Node) -> Run:
    constant = node["value"]  # the very object the interpreter returns, shared as there

    def literal(value: Any, fns: jp_functions.Functions) -> Any:
        return constant

    return literal


# -- logic ---------------------------------------------------------------------------------------

_ORDERING = {"lt": operator.lt, "gt": operator.gt, "lte": operator.le, "gte": operator.ge}


def _comparator(node: Node) -> Run:
    op = node["value"]
    left, right = (compile_expression(child) for child in node["children"])
    if op == "eq":

        def eq(value: Any, fns: jp_functions.Functions) -> Any:
            return _equals(left(value, fns), right(value, fns))

        return eq
    if op == "ne":

        def ne(value: Any, fns: jp_functions.Functions) -> Any:
            return not _equals(left(value, fns), right(value, fns))

        return ne
    compare = _ORDERING[op]

    def ordering(value: Any, fns: jp_functions.Functions) -> Any:
        # Ordering is only for numbers and strings; anything else gives null.
        a, b = left(value, fns), right(value, fns)
        if not (_is_comparable(a) and _is_comparable(b)):
            return None
        return compare(a, b)

    return ordering


def _or(node: Node) -> Run:
    left, right = (compile_expression(child) for child in node["children"])

    def either(value: Any, fns: jp_functions.Functions) -> Any:
        matched = left(value, fns)
        if _is_false(matched):
            matched = right(value, fns)
        return matched

    return either


def _and(node: Node) -> Run:
    left, right = (compile_expression(child) for child in node["children"])

    def both(value: Any, fns: jp_functions.Functions) -> Any:
        matched = left(value, fns)
        if _is_false(matched):
            return matched
        return right(value, fns)

    return both


def _not(node: Node) -> Run:
    (inner,) = (compile_expression(child) for child in node["children"])

    def negated(value: Any, fns: jp_functions.Functions) -> Any:
        found = inner(value, fns)
        if _is_actual_number(found) and found == 0:
            return False  # !0 is false: 0 is not false in JMESPath
        return not found

    return negated


# -- projections ---------------------------------------------------------------------------------


def _projection(node: Node) -> Run:
    left, right = (compile_expression(child) for child in node["children"])

    def projection(value: Any, fns: jp_functions.Functions) -> Any:
        base = left(value, fns)
        if not isinstance(base, list):
            return None
        collected = []
        for element in base:
            current = right(element, fns)
            if current is not None:
                collected.append(current)
        return collected

    return projection


def _filter_projection(node: Node) -> Run:
    left, right, condition = (compile_expression(child) for child in node["children"])
    keep_whole = node["children"][1]["type"] == "identity"

    def filtered(value: Any, fns: jp_functions.Functions) -> Any:
        base = left(value, fns)
        if not isinstance(base, list):
            return None
        collected = []
        for element in base:
            if not _is_false(condition(element, fns)):
                current = element if keep_whole else right(element, fns)
                if current is not None:
                    collected.append(current)
        return collected

    return filtered


def _value_projection(node: Node) -> Run:
    left, right = (compile_expression(child) for child in node["children"])

    def values(value: Any, fns: jp_functions.Functions) -> Any:
        base = left(value, fns)
        try:
            base = base.values()
        except AttributeError:
            return None
        collected = []
        for element in base:
            current = right(element, fns)
            if current is not None:
                collected.append(current)
        return collected

    return values


def _flatten(node: Node) -> Run:
    (inner,) = (compile_expression(child) for child in node["children"])

    def flatten(value: Any, fns: jp_functions.Functions) -> Any:
        base = inner(value, fns)
        if not isinstance(base, list):
            return None
        merged: list[Any] = []
        for element in base:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    return flatten


def _multi_select_list(node: Node) -> Run:
    items = [compile_expression(child) for child in node["children"]]

    def listed(value: Any, fns: jp_functions.Functions) -> Any:
        if value is None:
            return None
        return [item(value, fns) for item in items]

    return listed


def _multi_select_dict(node: Node) -> Run:
    pairs = [(kv["value"], compile_expression(kv["children"][0])) for kv in node["children"]]

    def keyed(value: Any, fns: jp_functions.Functions) -> Any:
        if value is None:
            return None
        collected = {}
        for key, item in pairs:
            collected[key] = item(value, fns)
        return collected

    return keyed


def _key_val_pair(node: Node) -> Run:
    return compile_expression(node["children"][0])


# -- functions -----------------------------------------------------------------------------------

# Per Functions class: name -> (the method, each argument's allowed type names), for the
# signatures whose check is one type name per argument; others are left to call_function.
_Plain = tuple[Callable[..., Any], tuple[frozenset[str] | None, ...]]
_SIGNATURES: dict[type, dict[str, _Plain | None]] = {}


def _plain_signature(cls: type, name: str) -> _Plain | None:
    table = _SIGNATURES.setdefault(cls, {})
    if name in table:
        return table[name]
    spec = cls.FUNCTION_TABLE.get(name)  # type: ignore[attr-defined]
    plain: _Plain | None = None
    if spec is not None:
        signature = spec["signature"]
        variadic = bool(signature) and signature[-1].get("variadic")
        allowed: list[frozenset[str] | None] = []
        for argument in signature:
            types = argument["types"]
            if any("-" in t for t in types):  # array-number: the items are checked too
                break
            allowed.append(
                frozenset(n for t in types for n in jp_functions.REVERSE_TYPES_MAP[t])
                if types
                else None
            )
        else:
            if not variadic:
                plain = (spec["function"], tuple(allowed))
    table[name] = plain
    return plain


def _function(node: Node) -> Run:
    name = node["value"]
    args = [compile_expression(child) for child in node["children"]]
    # The Functions class last called with, its method and each argument's allowed types (None
    # where the signature is not plain or not of this arity), as one tuple, so that threads
    # mapping other schools read a whole one.
    memo: list[tuple[type | None, Callable[..., Any] | None, tuple[frozenset[str] | None, ...]]]
    memo = [(None, None, ())]

    def call(value: Any, fns: jp_functions.Functions) -> Any:
        resolved = [arg(value, fns) for arg in args]
        cls, function, allowed = memo[0]
        if cls is not type(fns):
            plain = _plain_signature(type(fns), name)
            function, allowed = plain if plain and len(plain[1]) == len(args) else (None, ())
            memo[0] = (type(fns), function, allowed)
        if function is not None:
            # Functions._validate_arguments, where it would pass; where it would not, it runs
            # itself below and raises its own error.
            for arg, types in zip(resolved, allowed, strict=True):
                if types is not None and type(arg).__name__ not in types:
                    break
            else:
                return function(fns, *resolved)
        return fns.call_function(name, resolved)

    return call


def _expref(node: Node) -> Run:
    inner = node["children"][0]

    def expref(value: Any, fns: jp_functions.Functions) -> Any:
        # What sort_by, map and the like are given: the interpreter's own, as they visit it.
        return _Expression(inner, TreeInterpreter(Options(custom_functions=fns)))

    return expref


_COMPILERS: dict[str, Callable[[Node], Run]] = {
    "field": _field,
    "subexpression": _chain,
    "pipe": _chain,
    "index_expression": _chain,
    "index": _index,
    "slice": _slice,
    "current": _current,
    "identity": _current,
    "literal": _literal,
    "comparator": _comparator,
    "or_expression": _or,
    "and_expression": _and,
    "not_expression": _not,
    "projection": _projection,
    "filter_projection": _filter_projection,
    "value_projection": _value_projection,
    "flatten": _flatten,
    "multi_select_list": _multi_select_list,
    "multi_select_dict": _multi_select_dict,
    "key_val_pair": _key_val_pair,
    "function_expression": _function,
    "expref": _expref,
}
