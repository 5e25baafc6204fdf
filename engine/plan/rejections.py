"""Operations ParentPay already refused exactly as they stand are not sent again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.checks.run import CheckHit
from engine.plan.diff import Change, operation_of


def skip_known_rejections(
    changes: list[Change],
    summary: dict[str, dict[str, int]],
    rejected: Mapping[str, Mapping[str, Any]],
) -> tuple[list[Change], list[CheckHit]]:
    """Leave out operations ParentPay already refused exactly as they stand, and report them.

    Sending them again would be refused again, so a run with unchanged data pushes nothing;
    once the record's data changes in Bromcom the new operation differs and is sent.
    """
    kept, again = [], []
    for change in changes:
        last = rejected.get(change.mis_id)
        if last is not None and last["operation"] == operation_of(change):
            again.append((change, last))
            summary[change.type][change.op] -= 1
        else:
            kept.append(change)
    hits = []
    for kind in sorted({c.type for c, _ in again}):
        of_kind = [(c, last) for c, last in again if c.type == kind]
        hits.append(
            CheckHit(
                name="rejected_by_parentpay",
                severity="error",
                type=kind,
                records=[c.mis_id for c, _ in of_kind],
                message="ParentPay refused these records at their last upload, and their data has "
                "not changed since, so they are not sent again (its reasons are listed above).",
                remediation="It depends on ParentPay's code, and each record's fix is in the run's "
                "results file: for invalid, correct in Bromcom the field ParentPay names; for "
                "exists, run the data-matching exercise (bromsync match) or ask ParentPay "
                "support; for conflict or not_found, run again, which reads ParentPay first. "
                "The next run sends a corrected record.",
                details=sorted(
                    {f"{c.mis_id}: {last['code']}: {last['message']}" for c, last in of_kind}
                ),
            )
        )
    return kept, hits
