"""Guards: a whole school blocked, nothing pushed, when a plan looks like a broken source.

docs/school-file.md has the limits (`guards.*`) and docs/cli.md the flags that lift them after
review.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.config.school import SchoolConfig
from engine.records import PLURALS, Record


def archive_guard(
    school: SchoolConfig, summary: Mapping[str, Mapping[str, int]], baseline: Mapping[str, Record]
) -> str | None:
    """Why the plan archives too many records of a type (docs/school-file.md), or None."""
    for kind, counts in summary.items():
        archives = counts["archive"]
        active = sum(1 for r in baseline.values() if r["type"] == kind and r["status"] == "active")
        if not active or archives <= school.max_archive_count:
            continue
        percent = 100 * archives / active
        if percent > school.max_archive_percent:
            shown = f"{percent:.1f}".removesuffix(".0")
            return (
                f"this plan would archive {archives} of {active} {PLURALS[kind]} ({shown}%), more "
                f"than guards.max_archive_percent ({school.max_archive_percent:g}%) and "
                f"guards.max_archive_count ({school.max_archive_count}). A source that suddenly "
                "returns far fewer people is far more likely broken than a real exodus: check that "
                "every entity is still ticked for the web-service account in Bromcom, that the "
                "lawful basis was not switched to consent, and that the fetch was not cut short. "
                "If the leavers are real, review the plan and run again with --allow-mass-archive."
            )
    return None


def consent_guard(school: SchoolConfig, counts: Mapping[str, tuple[int, int]]) -> str | None:
    """A consent school where nobody of a type has consent (counts: type -> (kept, no_consent))."""
    if school.lawful_basis != "consent":
        return None
    for kind, (kept, no_consent) in counts.items():
        if kept == 0 and no_consent > 0:
            return (
                f"the school's lawful basis is consent, but none of its {no_consent} {PLURALS[kind]} "
                f"has data processing consent, so no {PLURALS[kind]} would be uploaded and every one "
                'already in ParentPay would be archived. In Bromcom, tick "Data processing consent '
                "has been granted\" on each person's record (steps 11-16 of the ParentPay set-up "
                "guide), or, if the school chose legitimate interest, set upload.lawful_basis: "
                "legitimate_interest in the school file."
            )
    return None
