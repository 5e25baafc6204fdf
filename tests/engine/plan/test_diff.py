"""engine/plan/diff.py: which operation each record needs, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from engine.plan.diff import Change, apply_change, diff


def rec(mis_id: str, kind: str = "pupil", status: str = "active", **fields: Any) -> dict[str, Any]:
    return {
        "mis_id": mis_id,
        "type": kind,
        "status": status,
        "fields": {"surname": "Smith", **fields},
    }


def current(mis_id: str, kind: str = "pupil", **fields: Any) -> dict[str, Any]:
    r = rec(mis_id, kind, **fields)
    del r["status"]
    return r


CASES = [
    ("new record is created", [current("1")], {}, [("create", "pupil", "1")]),
    ("same record is unchanged", [current("1")], {"1": rec("1")}, []),
    (
        "changed surname is one update",
        [current("1", surname="Smyth")],
        {"1": rec("1")},
        [("update", "pupil", "1")],
    ),
    ("gone record is archived", [], {"1": rec("1")}, [("archive", "pupil", "1")]),
    ("archived record stays archived", [], {"1": rec("1", status="archived")}, []),
    (
        "returner is restored",
        [current("1")],
        {"1": rec("1", status="archived")},
        [("restore", "pupil", "1")],
    ),
    (
        "returner with changes is restored then updated",
        [current("1", surname="Jones")],
        {"1": rec("1", status="archived")},
        [("restore", "pupil", "1"), ("update", "pupil", "1")],
    ),
    (
        "pre-admission on roll is converted, never archived",
        [current("7", "pupil")],
        {"7": rec("7", "preadmission")},
        [("convert", "pupil", "7")],
    ),
    ("other types are left alone", [], {"9": rec("9", "staff")}, []),
]


@pytest.mark.parametrize(
    ("records", "baseline", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_diff_ops(
    records: list[Any], baseline: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    changes, _ = diff(records, baseline, types={"pupil", "preadmission"})
    assert [(c.op, c.type, c.mis_id) for c in changes] == expected


def test_update_carries_only_changed_fields_and_before() -> None:
    changes, summary = diff(
        [current("1", surname="Smith", forename="Anna")],
        {"1": rec("1", surname="Smyth", forename="Anna")},
        types={"pupil"},
    )
    assert changes == [Change("update", "pupil", "1", {"surname": "Smith"}, {"surname": "Smyth"})]
    assert summary["pupil"]["update"] == 1 and summary["pupil"]["unchanged"] == 0


def test_held_record_is_not_archived() -> None:
    changes, _ = diff([], {"1": rec("1")}, types={"pupil"}, held={"1"})
    assert changes == []


def test_summary_counts_every_type() -> None:
    _, summary = diff([current("1"), current("2")], {"2": rec("2"), "3": rec("3")}, types={"pupil"})
    assert summary["pupil"] == {
        "create": 1,
        "update": 0,
        "archive": 1,
        "restore": 0,
        "convert": 0,
        "unchanged": 1,
    }
    assert set(summary) == {"pupil", "staff", "preadmission"}


def test_changes_are_in_numeric_id_order() -> None:
    changes, _ = diff([current("10"), current("9"), current("100")], {}, types={"pupil"})
    assert [c.mis_id for c in changes] == ["9", "10", "100"]


def test_apply_change_follows_each_op() -> None:
    state = rec("1", surname="Smyth")
    assert (
        apply_change(state, Change("update", "pupil", "1", {"surname": "Smith"}))["fields"][
            "surname"
        ]
        == "Smith"
    )
    assert apply_change(state, Change("archive", "pupil", "1"))["status"] == "archived"
    assert state["status"] == "active" and state["fields"]["surname"] == "Smyth"  # not mutated
    converted = apply_change(
        rec("7", "preadmission"), Change("convert", "pupil", "7", {"surname": "Li"})
    )
    assert converted == {
        "mis_id": "7",
        "type": "pupil",
        "status": "active",
        "fields": {"surname": "Li"},
    }
