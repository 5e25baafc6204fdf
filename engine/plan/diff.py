"""Diff: what must change in ParentPay so that it matches today's mapped records.

The baseline is what ParentPay holds now of each record bromsync manages (engine/plan/
reconcile.py brings ParentPay's people and bromsync's memory together), or with `--offline`
the last acknowledged state alone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.records import OPS, TYPES, Record, natural_key

# Within one record, a restore must reach ParentPay before the update that follows it.
_OP_ORDER = {"restore": 0, "convert": 1, "create": 1, "update": 2, "archive": 3}


@dataclass(frozen=True)
class Change:
    """One operation for ParentPay, with the old values of what it changes."""

    op: str
    type: str
    mis_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] | None = None
    reason: str | None = None  # "drift": puts back a value changed in ParentPay by hand

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "op": self.op,
            "type": self.type,
            "mis_id": self.mis_id,
            "fields": self.fields,
        }
        if self.before is not None:
            out["before"] = self.before
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def empty_summary() -> dict[str, dict[str, int]]:
    return {t: {op: 0 for op in (*OPS, "unchanged")} for t in TYPES}


def diff(
    records: Iterable[Record],
    baseline: Mapping[str, Record],
    *,
    types: Collection[str],
    held: Collection[str] = (),
) -> tuple[list[Change], dict[str, dict[str, int]]]:
    """Changes turning `baseline` into `records` for the record `types` being uploaded.

    Records of other types are left alone (a school that stops uploading staff does not archive
    them), and so are `held` ones: a record held back by a check is neither updated nor archived.
    """
    changes: list[Change] = []
    summary = empty_summary()
    current = {r["mis_id"]: r for r in records}
    for mis_id, record in current.items():
        old = baseline.get(mis_id)
        kind = record["type"]
        if old is None:
            changes.append(Change("create", kind, mis_id, dict(record["fields"])))
            continue
        if old["status"] == "archived":
            changes.append(Change("restore", old["type"], mis_id))
        if old["type"] == "preadmission" and kind == "pupil":
            # docs/rules.md: a pre-admission on roll keeps its account; never archive + create.
            changes.append(Change("convert", kind, mis_id, dict(record["fields"])))
            continue
        after = {
            k: v
            for k, v in record["fields"].items()
            if old["fields"].get(k, None) != v or k not in old["fields"]
        }
        if after:
            before = {k: old["fields"].get(k) for k in after}
            changes.append(Change("update", kind, mis_id, after, before))
        elif old["status"] != "archived":
            summary[kind]["unchanged"] += 1
    for mis_id, old in baseline.items():
        if (
            old["type"] not in types
            or mis_id in current
            or mis_id in held
            or old["status"] == "archived"
        ):
            continue
        changes.append(Change("archive", old["type"], mis_id))
    for change in changes:
        summary[change.type][change.op] += 1
    # Grouped by the type each record ends as, so a record's ops stay together and in order
    # (an archived pre-admission's restore before its convert to a pupil).
    final_type = {c.mis_id: c.type for c in changes}
    changes.sort(
        key=lambda c: (TYPES.index(final_type[c.mis_id]), natural_key(c.mis_id), _OP_ORDER[c.op])
    )
    return changes, summary


def operation_of(change: Change) -> dict[str, Any]:
    """The ParentPay upload operation of a change (docs/parentpay-api.md): archive and restore carry no fields."""
    fields = {} if change.op in ("archive", "restore") else change.fields
    return {"op": change.op, "type": change.type, "mis_id": change.mis_id, "fields": fields}


def apply_change(state: Record | None, change: Change) -> Record:
    """The record's state in ParentPay once `change` has been applied to `state`."""
    if change.op in ("create", "convert"):
        return {
            "mis_id": change.mis_id,
            "type": change.type,
            "status": "active",
            "fields": dict(change.fields),
        }
    assert state is not None, f"{change.op} of {change.mis_id} without a known state"
    new = {**state, "fields": dict(state["fields"])}
    if change.op == "update":
        new["fields"].update(change.fields)
    elif change.op == "archive":
        new["status"] = "archived"
    elif change.op == "restore":
        new["status"] = "active"
    return new
