"""Holds made in Python rather than SQL: what the data-matching exercise has not settled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.checks.run import CheckHit
from engine.records import TYPES, Record, natural_key


def awaiting_match(records: Sequence[Record], holds: Mapping[str, str]) -> list[CheckHit]:
    """Records the data-matching exercise has not settled: sending them would duplicate an account."""
    hits = []
    for kind in TYPES:
        waiting = [r["mis_id"] for r in records if r["type"] == kind and r["mis_id"] in holds]
        if waiting:
            hits.append(
                CheckHit(
                    name="awaiting_data_matching",
                    severity="error",
                    type=kind,
                    records=sorted(waiting, key=natural_key),
                    message="The last `bromsync match` found these records may already have a "
                    "ParentPay account under another ID, so they are held back: uploading them "
                    "now could create a second account for the same person.",
                    remediation="Review the match report, settle each line (re-key with "
                    "`bromsync match --apply`, or correct the data), then run `bromsync match` "
                    "again; it releases what it no longer finds uncertain.",
                    details=sorted({holds[m] for m in waiting}),
                )
            )
    return hits
