"""Applying an upload: each operation applied or rejected on its own, in order.

That is docs/parentpay-api.md's rule. The whole upload is one sqlite transaction that also
stores the answer under its Idempotency-Key, so a client that lost the answer and retries gets
the first answer back and nothing is applied twice; and a 5xx leaves the database as it was.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from . import store
from .formats import FIELDS, TYPES, mis_id_problem, problems

OPS = ("create", "update", "archive", "restore", "convert", "rekey")
_OP_KEYS = ("op", "type", "mis_id", "fields")

Person = dict[str, Any]


class Rejected(Exception):
    """One operation is refused; the others carry on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def process_upload(
    conn: sqlite3.Connection, site_id: int, key: str, operations: list[dict[str, Any]],
    *, commit: bool = True,
) -> tuple[str, bool]:  # fmt: skip
    """Apply `operations` and store the answer; returns (answer JSON, was it a replay).

    With `commit=False` everything is worked out and then rolled back, which is what an
    injected 5xx does: the client is told nothing was applied, and nothing was.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        stored = store.stored_answer(conn, site_id, key)
        if stored is not None:
            conn.execute("ROLLBACK")
            return stored, True
        upload_id = f"up_{uuid.uuid4().hex}"
        results = apply_operations(conn, site_id, operations)
        answer = json.dumps({"upload_id": upload_id, "results": results}, ensure_ascii=False)
        store.store_answer(conn, site_id, key, upload_id, answer)
        store.log_operations(conn, site_id, upload_id, operations, results)
        conn.execute("COMMIT" if commit else "ROLLBACK")
        return answer, False
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def apply_operations(
    conn: sqlite3.Connection, site_id: int, operations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    results = []
    for index, op in enumerate(operations):
        mis_id = op.get("mis_id")
        result: dict[str, Any] = {
            "index": index,
            # The contract makes mis_id a string; a malformed one is echoed as "" and the
            # message says what was wrong with it.
            "mis_id": mis_id if isinstance(mis_id, str) else "",
            "status": "applied",
            "code": None,
            "message": None,
        }
        # A savepoint per operation, so an operation that fails half-way leaves no trace.
        conn.execute("SAVEPOINT op")
        try:
            _apply(conn, site_id, op)
        except Rejected as rejected:
            conn.execute("ROLLBACK TO op")
            result.update(status="rejected", code=rejected.code, message=rejected.message)
        conn.execute("RELEASE op")
        results.append(result)
    return results


def _apply(conn: sqlite3.Connection, site_id: int, op: dict[str, Any]) -> None:
    kind, type_, mis_id, fields = _checked(op)
    record = store.get_person(conn, site_id, mis_id)
    if kind == "create":
        if record is not None:
            raise Rejected("exists", f"mis_id {mis_id} is already used by {_describe(record)}")
        store.insert_person(conn, site_id, mis_id, type_, "active", _ordered(type_, fields))
        return
    if record is None:
        raise Rejected("not_found", f"no record has mis_id {mis_id} on this site")
    _HANDLERS[kind](conn, site_id, type_, fields, record)


def _checked(op: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """The operation's parts, once they are known to be well formed (else `invalid`)."""
    unknown = sorted(k for k in op if k not in _OP_KEYS)
    if unknown:
        raise Rejected(
            "invalid", f"{', '.join(unknown)}: not part of an operation (op, type, mis_id, fields)"
        )
    kind, type_ = op.get("op"), op.get("type")
    if kind not in OPS:
        raise Rejected("invalid", f"op: must be one of {', '.join(OPS)}, not {kind!r}")
    if type_ not in TYPES:
        raise Rejected("invalid", f"type: must be one of {', '.join(TYPES)}, not {type_!r}")
    problem = mis_id_problem(op.get("mis_id"))
    if problem:
        raise Rejected("invalid", problem)
    fields = op.get("fields")
    if kind in ("archive", "restore"):
        if fields not in (None, {}):
            raise Rejected("invalid", f"fields: {kind} sends no fields")
        return kind, type_, op["mis_id"], {}
    if not isinstance(fields, dict):
        raise Rejected("invalid", f"fields: {kind} needs an object of fields, not {fields!r}")
    if kind == "rekey":
        extra = sorted(k for k in fields if k != "new_mis_id")
        if extra:
            raise Rejected("invalid", f"{', '.join(extra)}: rekey sends only new_mis_id")
        problem = mis_id_problem(fields.get("new_mis_id"), "new_mis_id")
        if problem:
            raise Rejected("invalid", problem)
        return kind, type_, op["mis_id"], fields
    if kind == "convert" and type_ != "pupil":
        raise Rejected(
            "invalid", f"type: convert sends the pupil the record becomes, so type is pupil, "
            f"not {type_!r}"
        )  # fmt: skip
    if kind == "update" and not fields:
        raise Rejected("invalid", "fields: an update must send at least one changed field")
    found = problems(type_, fields, whole=kind in ("create", "convert"))
    if found:
        raise Rejected("invalid", "; ".join(found))
    return kind, type_, op["mis_id"], fields


def _update(
    conn: sqlite3.Connection, site_id: int, type_: str, fields: Person, rec: Person
) -> None:
    _same_type(type_, rec)
    if rec["status"] != "active":
        raise Rejected("conflict", f"{rec['mis_id']} is archived: restore it before updating it")
    merged = {**rec["fields"], **fields}
    # Each field was checked on its own; checking the result too keeps a stored record valid
    # even if it was seeded or written by an older simulator.
    found = problems(type_, merged, whole=True)
    if found:
        raise Rejected("invalid", "; ".join(found))
    store.update_person(
        conn, site_id, rec["mis_id"], type_=type_, status="active", fields=_ordered(type_, merged)
    )


def _archive(conn: sqlite3.Connection, site_id: int, type_: str, _: Person, rec: Person) -> None:
    _same_type(type_, rec)
    if rec["status"] == "archived":
        raise Rejected("conflict", f"{rec['mis_id']} is already archived")
    store.update_person(
        conn, site_id, rec["mis_id"], type_=type_, status="archived", fields=rec["fields"]
    )


def _restore(conn: sqlite3.Connection, site_id: int, type_: str, _: Person, rec: Person) -> None:
    _same_type(type_, rec)
    if rec["status"] == "active":
        raise Rejected("conflict", f"{rec['mis_id']} is already active")
    store.update_person(
        conn, site_id, rec["mis_id"], type_=type_, status="active", fields=rec["fields"]
    )


def _convert(
    conn: sqlite3.Connection, site_id: int, type_: str, fields: Person, rec: Person
) -> None:
    if rec["type"] != "preadmission" or rec["status"] != "active":
        raise Rejected(
            "conflict",
            f"{rec['mis_id']} is {_describe(rec)}; only an active preadmission can be converted",
        )
    # Same row, same account: the payer keeps the login made for the pre-admission.
    store.update_person(
        conn, site_id, rec["mis_id"], type_="pupil", status="active",
        fields=_ordered("pupil", fields),
    )  # fmt: skip


def _rekey(conn: sqlite3.Connection, site_id: int, type_: str, fields: Person, rec: Person) -> None:
    _same_type(type_, rec)
    new_mis_id = fields["new_mis_id"]
    taken = store.get_person(conn, site_id, new_mis_id)
    if taken is not None:
        raise Rejected("exists", f"new_mis_id {new_mis_id} is already used by {_describe(taken)}")
    store.update_person(
        conn, site_id, rec["mis_id"], type_=rec["type"], status=rec["status"],
        fields=rec["fields"], new_mis_id=new_mis_id,
    )  # fmt: skip


_HANDLERS: dict[str, Callable[[sqlite3.Connection, int, str, Person, Person], None]] = {
    "update": _update,
    "archive": _archive,
    "restore": _restore,
    "convert": _convert,
    "rekey": _rekey,
}


def _same_type(type_: str, rec: Person) -> None:
    if rec["type"] != type_:
        raise Rejected("conflict", f"{rec['mis_id']} is {_describe(rec)}, not a {type_}")


def _describe(rec: Person) -> str:
    return f"an {rec['status']} {rec['type']} record"  # statuses: active, archived


def _ordered(type_: str, fields: Person) -> Person:
    """Fields in the contract's order, so stored and listed records read the same way."""
    return {name: fields[name] for name in FIELDS[type_]}
