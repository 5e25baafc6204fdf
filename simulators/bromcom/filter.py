"""entityFilter: the SQL Server WHERE-clause fragment Bromcom applies to an entity's rows.

Supported: comparisons (= <> != < <= > >=), AND/OR/NOT with SQL precedence and parentheses,
[NOT] LIKE (% _ [set], optional ESCAPE), [NOT] IN (...), IS [NOT] NULL, [NOT] BETWEEN x AND y,
GETDATE(), ISNULL(a, b), COALESCE(a, ...), string literals ('' escapes a quote, N'' too),
numbers, column names in any case, [bracketed] or "quoted". Logic is three-valued as in
SQL Server with ANSI_NULLS on: a comparison with NULL is unknown and the row is not returned.
Anything else is refused with SQL Server's message (`Incorrect syntax near '...'.`), as the
real service does when its query fails. Like SQL Server, syntax is checked before column names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from .sqllex import Token, tokenize
from .sqltypes import FilterError, Value, between, compare, in_list, like

__all__ = ["FilterError", "compile_filter", "parse_filter"]

Row = Mapping[str, Value]
Predicate = Callable[[Row], bool | None]
Expr = Callable[[Row], Value]


# The parse tree: small tuples, tag first. Values: ("lit", v), ("col", Token),
# ("func", Token, [args]). Conditions: ("or"|"and", a, b), ("not", a), ("cmp", op, l, r),
# ("like", negate, value, pattern, escape), ("in", negate, value, [items]),
# ("null", negate, value), ("between", negate, value, low, high).
Node = tuple[object, ...]


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def error(self, token: Token | None = None) -> FilterError:
        token = token or self.tok
        if token.kind == "eof" and len(self.tokens) > 1:  # SQL Server names the last token
            token = self.tokens[-2]
        return FilterError(f"Incorrect syntax near '{token.text}'.")

    def take(self) -> Token:
        token = self.tok
        if token.kind != "eof":
            self.pos += 1
        return token

    def accept_kw(self, word: str) -> bool:
        if self.tok.kind == "kw" and self.tok.value == word:
            self.pos += 1
            return True
        return False

    def accept_op(self, op: str) -> bool:
        if self.tok.kind == "op" and self.tok.value == op:
            self.pos += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            raise self.error()

    def parse(self) -> Node:
        node = self.disjunction()
        if self.tok.kind != "eof":
            raise self.error()
        return node

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.accept_kw("or"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.accept_kw("and"):
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.accept_kw("not"):
            return ("not", self.negation())
        if self.tok.kind == "op" and self.tok.value == "(" and self._paren_is_condition():
            self.take()
            node = self.disjunction()
            self.expect_op(")")
            return node
        return self.predicate()

    def _paren_is_condition(self) -> bool:
        """Whether '(' opens a grouped condition rather than a parenthesised value."""
        start = self.pos
        try:
            self.take()
            self.value()
            return not (self.accept_op(")") and self._at_value_operator())
        except FilterError:
            return True
        finally:
            self.pos = start

    def _at_value_operator(self) -> bool:
        tok = self.tok
        if tok.kind == "op":
            return tok.value not in ("(", ")", ",")
        return tok.kind == "kw" and tok.value in ("like", "in", "is", "between", "not")

    def predicate(self) -> Node:
        start = self.tok
        left = self.value()
        tok = self.tok
        if tok.kind == "op" and tok.value in ("=", "<>", "!=", "<", "<=", ">", ">=", "!<", "!>"):
            self.take()
            return ("cmp", tok.value, left, self.value())
        if self.accept_kw("is"):
            negate = self.accept_kw("not")
            if not self.accept_kw("null"):
                raise self.error()
            return ("null", negate, left)
        negate = self.accept_kw("not")
        if self.accept_kw("like"):
            pattern = self.value()
            escape = self.value() if self.accept_kw("escape") else None
            return ("like", negate, left, pattern, escape)
        if self.accept_kw("in"):
            self.expect_op("(")
            items = [self.value()]
            while self.accept_op(","):
                items.append(self.value())
            self.expect_op(")")
            return ("in", negate, left, items)
        if self.accept_kw("between"):
            low = self.value()
            if not self.accept_kw("and"):
                raise self.error()
            return ("between", negate, left, low, self.value())
        if negate:
            raise self.error()
        near = self.tok if self.tok.kind != "eof" else start
        raise FilterError(
            "An expression of non-boolean type specified in a context where a condition is "
            f"expected, near '{near.text}'."
        )

    def value(self) -> Node:
        tok = self.take()
        if tok.kind == "str":
            return ("lit", tok.value)
        if tok.kind == "num":
            return ("lit", _number(tok.value))
        if tok.kind == "op" and tok.value == "-" and self.tok.kind == "num":
            return ("lit", -_number(self.take().value))
        if tok.kind == "kw" and tok.value == "null":
            return ("lit", None)
        if tok.kind == "op" and tok.value == "(":
            node = self.value()
            self.expect_op(")")
            return node
        if tok.kind == "name":
            if self.accept_op("("):
                args: list[Node] = []
                if not self.accept_op(")"):
                    args.append(self.value())
                    while self.accept_op(","):
                        args.append(self.value())
                    self.expect_op(")")
                return ("func", tok, args)
            return ("col", tok)
        raise self.error(tok)


def _number(text: str) -> int | Decimal:
    return int(text) if text.isdigit() else Decimal(text)


def parse_filter(source: str) -> Node | None:
    """The parse tree of a filter, or None for an empty one (all rows)."""
    if not source.strip():
        return None
    return _Parser(tokenize(source)).parse()


def compile_filter(
    source: str | None, columns: Sequence[str], now: dt.datetime
) -> Callable[[Row], bool]:
    """A row test for `source`; `now` is GETDATE() (one value per query, as in SQL Server).

    Rows are keyed by the names in `columns`; a filter names them in any case.
    Raises FilterError at compile time for syntax and names, at call time for conversions.
    """
    tree = parse_filter(source or "")
    if tree is None:
        return lambda row: True
    by_lower = {name.lower(): name for name in columns}
    test = _Compiler(by_lower, now).condition(tree)
    return lambda row: test(row) is True


class _Compiler:
    def __init__(self, columns: dict[str, str], now: dt.datetime) -> None:
        self.columns = columns
        self.now = now

    def condition(self, node: Node) -> Predicate:
        tag = node[0]
        if tag in ("and", "or"):
            a, b = self.condition(node[1]), self.condition(node[2])  # type: ignore[arg-type]
            return _and(a, b) if tag == "and" else _or(a, b)
        if tag == "not":
            inner = self.condition(node[1])  # type: ignore[arg-type]
            return lambda row: _not(inner(row))
        negate = bool(node[1])
        test = self._simple(node)
        return (lambda row: _not(test(row))) if negate and tag != "cmp" else test

    def _simple(self, node: Node) -> Predicate:
        tag = node[0]
        if tag == "cmp":
            op = str(node[1])
            left, right = self.value(node[2]), self.value(node[3])  # type: ignore[arg-type]
            check = _CMP[op]
            return lambda row: _apply(check, compare(left(row), right(row)))
        subject = self.value(node[2])  # type: ignore[arg-type]
        if tag == "null":
            return lambda row: subject(row) is None
        if tag == "between":
            low, high = self.value(node[3]), self.value(node[4])  # type: ignore[arg-type]
            return lambda row: between(subject(row), low(row), high(row))
        if tag == "in":
            nodes = node[3]
            assert isinstance(nodes, list)
            items = [self.value(item) for item in nodes]
            return lambda row: in_list(subject(row), [item(row) for item in items])
        pattern = self.value(node[3])  # type: ignore[arg-type]
        escape = self.value(node[4]) if node[4] is not None else (lambda row: None)  # type: ignore[arg-type]
        return lambda row: like(subject(row), pattern(row), escape(row))

    def value(self, node: Node) -> Expr:
        tag = node[0]
        if tag == "lit":
            literal = node[1]
            return lambda row: literal  # type: ignore[return-value]
        if tag == "col":
            tok = node[1]
            assert isinstance(tok, Token)
            name = self.columns.get(tok.value.lower())
            if name is None:
                raise FilterError(f"Invalid column name '{tok.value}'.")
            return lambda row: row.get(name)
        tok, arg_nodes = node[1], node[2]
        assert isinstance(tok, Token) and isinstance(arg_nodes, list)
        func = tok.value.lower()
        args = [self.value(arg) for arg in arg_nodes]
        wanted = {"getdate": 0, "isnull": 2}.get(func)
        if wanted is not None and len(args) != wanted:
            raise FilterError(f"The {func} function requires {wanted} argument(s).")
        if func == "getdate":
            now = self.now
            return lambda row: now
        if func in ("isnull", "coalesce"):
            if len(args) < 2:
                raise FilterError("The coalesce function requires at least 2 arguments.")
            return lambda row: next((v for v in (a(row) for a in args) if v is not None), None)
        raise FilterError(f"'{tok.value}' is not a recognized built-in function name.")


_CMP: dict[str, Callable[[int], bool]] = {
    "=": lambda c: c == 0,
    "<>": lambda c: c != 0,
    "!=": lambda c: c != 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
    "!<": lambda c: c >= 0,
    "!>": lambda c: c <= 0,
}


def _apply(check: Callable[[int], bool], order: int | None) -> bool | None:
    return None if order is None else check(order)


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _and(a: Predicate, b: Predicate) -> Predicate:
    def test(row: Row) -> bool | None:
        left = a(row)
        if left is False:
            return False
        right = b(row)
        if right is False:
            return False
        return None if left is None or right is None else True

    return test


def _or(a: Predicate, b: Predicate) -> Predicate:
    def test(row: Row) -> bool | None:
        left = a(row)
        if left is True:
            return True
        right = b(row)
        if right is True:
            return True
        return None if left is None or right is None else False

    return test
