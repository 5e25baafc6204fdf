"""Transform: apply a compiled mapping to fetched tables, giving ParentPay records.

Joins are resolved through one hash index per (entity, key columns), built once per run, so
a school of 2,000 pupils costs one pass over each entity and not one scan per pupil. Keys
compare by value across types only where both sides hold the same whole number (`join_key`).
A run's mappings share one `Documents`: each entity's rows are made documents once and
indexed once, however many mappings read them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jmespath

from engine.errors import BromcomDataError, MappingError
from engine.records import Record
from engine.sources import Table
from engine.transform.functions import MappingFunctions, NotADate
from engine.transform.mapping import Expr, Join, Mapping

Document = dict[str, Any]


# The only fields mapped for a person left out for want of consent: enough to name them.
_NAMES = ("title", "forename", "surname")


@dataclass
class Transformed:
    """What one mapping made of one school's data."""

    type: str
    records: list[Record]
    left_out: dict[str, int]  # include rule name -> rows it left out
    no_consent: int
    # Who was left out for want of consent, by ID and name only, so a report can name them.
    no_consent_records: list[Record] = field(default_factory=list)


_DATE_TYPES = frozenset({"dateTime", "date"})


def _document_rows(table: Table) -> list[Document]:
    """Rows as JSON-like documents: datetimes as ISO strings of the wall-clock written.

    A row with no date in it is its own document (shared, so never to be written to); a row
    with one is copied once. Only the columns the schema types as dates are looked at, but a
    row holding a column the schema does not declare (a test's table, with no schema) is
    converted cell by cell, as any cell of it could be a date.
    """
    declared = table.columns.keys()
    dated = [name for name, type_ in table.columns.items() if type_ in _DATE_TYPES]
    out: list[Document] = []
    for row in table.rows:
        if row.keys() <= declared:
            doc = row
            for name in dated:
                value = row.get(name)
                if isinstance(value, (dt.datetime, dt.date)):
                    if doc is row:
                        doc = dict(row)
                    doc[name] = value.isoformat()
            out.append(doc)
        else:
            out.append(
                {
                    k: (v.isoformat() if isinstance(v, (dt.datetime, dt.date)) else v)
                    for k, v in row.items()
                }
            )
    return out


_WHOLE_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)")


def join_key(value: Any) -> Any:
    """A join column's value as the join compares it: by number across types, never by guess.

    Bromcom may type one ID `xs:int` in one entity and `xs:string` in another (or change it),
    so the text "1001" joins the number 1001. Only text that is exactly a whole number written
    the usual way joins: "01001", " 1001" and "1001.0" are other values, never the pupil 1001,
    as a join that guessed would attach one pupil's contacts to another. A flag stays a flag
    (Python counts True as 1).
    """
    if type(value) is int:  # the common case first; True is not of type int
        return value
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        return int(value)
    return value


def _sort_key(columns: Sequence[str]):  # type: ignore[no-untyped-def]
    # Nulls sort last, as "no priority" should never beat priority 1.
    def key(doc: Document) -> tuple[Any, ...]:
        return tuple(
            (doc.get(c) is None, doc.get(c) if doc.get(c) is not None else 0) for c in columns
        )

    return key


Index = dict[Any, list[Document]]


class Documents:
    """One run's tables as documents, with their join indexes: made once, read by every mapping.

    Neither the documents nor the index lists are ever written to, as every mapping of the run
    reads them: `transform` copies each row it maps before adding lets and joins to it, and a
    join with joins of its own attaches them to copies (`_Joiner`).
    """

    def __init__(self, tables: MappingABC[str, Table]) -> None:
        self.tables = tables
        self.rows: dict[str, list[Document]] = {}
        self.indexes: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Index] = {}

    def of(self, entity: str) -> list[Document]:
        rows = self.rows.get(entity)
        if rows is None:
            rows = self.rows[entity] = _document_rows(self.tables[entity])
        return rows

    def index(self, entity: str, columns: tuple[str, ...], order_by: tuple[str, ...]) -> Index:
        """`entity`'s documents by the join keys of `columns` (one column: the key itself,
        else a tuple of keys), each list sorted by `order_by`."""
        key = (entity, columns, order_by)
        index = self.indexes.get(key)
        if index is None:
            grouped: Index = defaultdict(list)
            if len(columns) == 1:
                (column,) = columns
                for doc in self.of(entity):
                    value = doc.get(column)
                    grouped[value if type(value) is int else join_key(value)].append(doc)
            else:
                for doc in self.of(entity):
                    grouped[tuple(join_key(doc.get(c)) for c in columns)].append(doc)
            if order_by:
                sort = _sort_key(order_by)
                for rows in grouped.values():
                    rows.sort(key=sort)
            index = self.indexes[key] = dict(grouped)
        return index


class _Joiner:
    """Attaches joined rows to one mapping's documents, from the run's shared indexes."""

    def __init__(self, documents: Documents) -> None:
        self.documents = documents
        # Per join (by id: the mapping outlives this joiner) the index it reads, its parent
        # columns, and for a join with joins of its own, its rows as copies carrying them.
        self.plans: dict[int, tuple[Index, tuple[str, ...]]] = {}
        self.nested: dict[int, dict[Any, list[Document]]] = {}

    def _plan(self, join: Join) -> tuple[Index, tuple[str, ...]]:
        plan = self.plans.get(id(join))
        if plan is None:
            columns = tuple(column for column, _ in join.match)
            index = self.documents.index(join.entity, columns, join.order_by)
            plan = self.plans[id(join)] = (index, tuple(parent for _, parent in join.match))
        return plan

    def attach(self, doc: Document, joins: Sequence[Join]) -> None:
        for join in joins:
            index, parents = self._plan(join)
            wanted: Any
            if len(parents) == 1:
                wanted = doc.get(parents[0])
                if type(wanted) is not int:  # join_key's common case, without the call
                    wanted = join_key(wanted)
                rows = [] if wanted is None else index.get(wanted, [])
            else:
                wanted = tuple(join_key(doc.get(parent)) for parent in parents)
                rows = [] if None in wanted else index.get(wanted, [])
            if join.joins and rows:
                # The index rows are every mapping's, so this join's own joins go on copies;
                # they depend on the row alone, so one copy per row serves every parent.
                copies = self.nested.setdefault(id(join), {})
                attached = copies.get(wanted)
                if attached is None:
                    attached = copies[wanted] = [dict(row) for row in rows]
                    for row in attached:
                        self.attach(row, join.joins)
                rows = attached
            doc[join.name] = list(rows) if join.many else (rows[0] if rows else None)


def _search(expr: Expr, document: Any, functions: MappingFunctions, mis_id: str | None) -> Any:
    try:
        return expr.run(document, functions)
    except NotADate as exc:
        # Bromcom's data, not the mapping, is wrong; and the school fails rather than guess,
        # since this date decides who is current (on roll, a payer, on free meals).
        who = f"record {mis_id}" if mis_id else "a record"
        raise BromcomDataError(
            f"Bromcom sent {exc.value!r} in the data of {who}, where {expr.where} "
            f"(`{expr.source}`) needs a date, so bromsync cannot tell whether it is current "
            "and nothing was pushed for this school. This is Bromcom data to correct: put a "
            f"real date on {who} in Bromcom (a start or end date of the record, or of its "
            "contact, free-meal or medical rows); if every record shows a value like this, "
            "Bromcom sends the column in another form: ask Bromcom support",
            entity=None,
            rows=[mis_id] if mis_id else [],
        ) from None
    except jmespath.exceptions.JMESPathError as exc:
        who = f" for record {mis_id}" if mis_id else ""
        raise MappingError(
            f"{expr.where}: the expression `{expr.source}` failed{who}: {exc}"
        ) from exc


def transform(
    mapping: Mapping,
    tables: MappingABC[str, Table],
    *,
    functions: MappingFunctions,
    consent_required: bool,
    documents: Documents | None = None,
) -> Transformed:
    """Apply `mapping` to `tables` (keyed by the mapping's entity names).

    `documents` is the run's `Documents` of the same `tables`, to share between the run's
    mappings; without it the mapping makes its own.
    """
    documents = documents or Documents(tables)
    joiner = _Joiner(documents)
    left_out: dict[str, int] = {name: 0 for name, _ in mapping.include}
    no_consent = 0
    records: list[Record] = []
    without: list[Record] = []
    for row in documents.of(mapping.entity):
        doc = dict(row)
        joiner.attach(doc, mapping.joins)
        raw_id = _search(mapping.id, doc, functions, None)
        mis_id = None if raw_id is None else str(raw_id)
        for name, expr in mapping.lets:
            doc[name] = _search(expr, doc, functions, mis_id)
        failed = next(
            (name for name, expr in mapping.include if not _search(expr, doc, functions, mis_id)),
            None,
        )
        if failed is not None:
            left_out[failed] += 1
            continue
        if (
            consent_required
            and mapping.consent is not None
            and not _search(mapping.consent, doc, functions, mis_id)
        ):
            no_consent += 1
            if mis_id is not None:
                names = {
                    n: _search(e, doc, functions, mis_id) for n, e in mapping.fields if n in _NAMES
                }
                without.append({"mis_id": mis_id, "type": mapping.type, "fields": names})
            continue
        if mis_id is None:
            raise _no_id(mapping, doc, functions)
        fields = {name: _search(expr, doc, functions, mis_id) for name, expr in mapping.fields}
        records.append({"mis_id": mis_id, "type": mapping.type, "fields": fields})

    return Transformed(mapping.type, records, left_out, no_consent, without)


def _no_id(mapping: Mapping, doc: dict[str, Any], functions: MappingFunctions) -> BromcomDataError:
    """A row the id rule gives nothing for fails the school: left out, its person would be
    archived in ParentPay. It is named by what the mapping reads of it, as far as it can be."""
    names = [_search(e, doc, functions, None) for n, e in mapping.fields if n in _NAMES]
    who = " ".join(str(n) for n in names if n not in (None, "")) or "a row with no name either"
    return BromcomDataError(
        f"Bromcom sent a {mapping.entity} row with no ID ({who}): the mapping's id rule "
        f"`{mapping.id.source}` ({mapping.id.where}) gives nothing for it, so this record cannot "
        "be told apart from the others and nothing was pushed for this school (left out, its "
        "person would be archived in ParentPay). This is Bromcom data to correct: ask Bromcom "
        "support why the record has no ID; if every row is like this, the id rule is wrong",
        entity=mapping.entity,
        rows=[who],
    )
