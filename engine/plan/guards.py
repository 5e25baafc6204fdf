"""Guards: a whole school blocked, nothing pushed, when a plan looks like a broken source.

docs/school-file.md has the limits (`guards.*`), docs/plan.md how a plan records the guards
that fired, and docs/cli.md the flags that lift them after review. Every guard that fires is
reported, not only the first, so one review sees all that is wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.config.school import SchoolConfig
from engine.plan.diff import Change
from engine.records import PLURALS, RECORD_TYPES, TYPES, Record

# The flag that lifts each guard after review; the consent guard has none (fix the cause).
RELEASE_FLAGS = {"archive": "--allow-mass-archive", "blank": "--allow-mass-blank"}

# docs/school-file.md: the blank guard leaves free meals and dietary needs alone. Free-meal
# periods end for many pupils at once (the end of a term, a new year), and a dietary need is
# medical data a school may clear for everyone in one review, so emptying them is ordinary.
UNGUARDED_FIELDS = frozenset({"fsm", "fsm_start", "fsm_end", "dietary"})

# The small-type archive rule: more than half of a type's active records, and at least this
# many of them, is blocked whatever guards.max_archive_* say (16 of 16 pre-admissions must
# not slip under a count limit of 25).
HALF_RULE_MINIMUM = 5

# The causes a support agent checks first, in the words of the Bromcom set-up steps.
CAUSES = (
    "Such a change at once is far more likely a broken source than a real one: check that the "
    "mapping and the Bromcom columns it reads did not change (a column renamed or misspelt, an "
    "ID sent as text), that every entity is still ticked for the web-service account in Bromcom, "
    "that the lawful basis was not switched to consent, and that the fetch was not cut short."
)


@dataclass(frozen=True)
class GuardHit:
    """One guard that fired: for one type, and for the blank guard one field of it."""

    guard: str  # "consent", "archive" or "blank"
    type: str
    # archive: records it would archive; blank: values it would empty; consent: people of the
    # type left out for want of consent.
    count: int
    active: int | None  # the type's active records in ParentPay (None for consent)
    message: str  # what it found, phrased to follow "blocked: "
    field: str | None = None  # the blank guard's field
    rule: str = (
        "limits"  # "limits" (both school-file limits), "half" (the small-type rule), "consent"
    )
    released: bool = False  # lifted by this command's flag, after review

    @property
    def flag(self) -> str | None:
        """The option that lifts this guard, or None (the consent guard cannot be lifted)."""
        return RELEASE_FLAGS.get(self.guard)

    @property
    def percent(self) -> float | None:
        if not self.active:
            return None
        return round(100 * self.count / self.active, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "guard": self.guard,
            "type": self.type,
            "field": self.field,
            "count": self.count,
            "active": self.active,
            "percent": self.percent,
            "rule": self.rule,
            "flag": self.flag,
            "released": self.released,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuardHit:
        return cls(
            guard=str(data["guard"]),
            type=str(data["type"]),
            count=int(data["count"]),
            active=None if data.get("active") is None else int(data["active"]),
            message=str(data["message"]),
            field=data.get("field"),
            rule=str(data.get("rule", "limits")),
            released=bool(data.get("released", False)),
        )


def _shown(count: int, active: int) -> str:
    return f"{100 * count / active:.1f}".removesuffix(".0") + "%"


def _field_order(kind: str, name: str) -> tuple[int, int, str]:
    """Types in plan order, then fields in ParentPay's order for the type."""
    fields = RECORD_TYPES[kind].fields
    return TYPES.index(kind), fields.index(name) if name in fields else len(fields), name


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


# -- the guards -----------------------------------------------------------------------------


def consent_guards(school: SchoolConfig, counts: Mapping[str, tuple[int, int]]) -> list[GuardHit]:
    """A consent school where nobody of a type has consent (counts: type -> (kept, no_consent))."""
    if school.lawful_basis != "consent":
        return []
    return [
        GuardHit(
            "consent",
            kind,
            no_consent,
            None,
            f"the school's lawful basis is consent, but none of its {no_consent} {PLURALS[kind]} "
            f"has data processing consent, so no {PLURALS[kind]} would be uploaded and every one "
            'already in ParentPay would be archived. In Bromcom, tick "Data processing consent '
            "has been granted\" on each person's record (steps 11-16 of the ParentPay set-up "
            "guide), or, if the school chose legitimate interest, set upload.lawful_basis: "
            "legitimate_interest in the school file.",
            rule="consent",
        )
        for kind, (kept, no_consent) in counts.items()
        if kept == 0 and no_consent > 0
    ]


def consent_guard(school: SchoolConfig, counts: Mapping[str, tuple[int, int]]) -> str | None:
    """The consent guard's reason, or None (for `bromsync check`, which reports it as a point)."""
    hits = consent_guards(school, counts)
    return hits[0].message if hits else None


def _active(baseline: Mapping[str, Record]) -> Counter[str]:
    return Counter(r["type"] for r in baseline.values() if r["status"] == "active")


def archive_guards(
    school: SchoolConfig, summary: Mapping[str, Mapping[str, int]], baseline: Mapping[str, Record]
) -> list[GuardHit]:
    """The types of which the plan archives too many active records (docs/school-file.md)."""
    active = _active(baseline)
    hits = []
    for kind in (t for t in TYPES if t in summary):
        archives, of = summary[kind]["archive"], active[kind]
        if not of or not archives:
            continue
        shown = (
            f"this plan would archive {archives} of {of} {PLURALS[kind]} ({_shown(archives, of)})"
        )
        if archives > school.max_archive_count and 100 * archives / of > school.max_archive_percent:
            rule = "limits"
            why = (
                f"more than guards.max_archive_percent ({school.max_archive_percent:g}%) and "
                f"guards.max_archive_count ({school.max_archive_count})"
            )
        elif 2 * archives > of and archives >= HALF_RULE_MINIMUM:
            rule = "half"
            why = (
                "more than half of them: a plan that archives more than half of a type's active "
                f"records, and at least {HALF_RULE_MINIMUM}, is blocked whatever "
                "guards.max_archive_percent and guards.max_archive_count say"
            )
        else:
            continue
        hits.append(GuardHit("archive", kind, archives, of, f"{shown}, {why}", rule=rule))
    return hits


def blank_guards(
    school: SchoolConfig, changes: Iterable[Change], baseline: Mapping[str, Record]
) -> list[GuardHit]:
    """The fields of a type that the plan would empty for too many records (docs/school-file.md).

    A value is emptied when ParentPay holds one (`baseline`, ParentPay as it is now) on an
    active record and the plan's update or convert sends null (or "") instead.
    """
    emptied: Counter[tuple[str, str]] = Counter()
    for change in changes:
        old = baseline.get(change.mis_id)
        if change.op not in ("update", "convert") or old is None or old["status"] != "active":
            continue
        for name, value in change.fields.items():
            if name in UNGUARDED_FIELDS or not _empty(value):
                continue
            if not _empty(old["fields"].get(name)):
                emptied[(old["type"], name)] += 1
    active = _active(baseline)
    hits = []
    for (kind, name), count in sorted(emptied.items(), key=lambda item: _field_order(*item[0])):
        of = active[kind]
        if count <= school.max_blank_count or 100 * count / of <= school.max_blank_percent:
            continue
        message = (
            f"this plan would empty `{name}` for {count} of {of} {PLURALS[kind]} in ParentPay "
            f"({_shown(count, of)}), more than guards.max_blank_percent "
            f"({school.max_blank_percent:g}%) and guards.max_blank_count ({school.max_blank_count})"
        )
        hits.append(GuardHit("blank", kind, count, of, message, field=name))
    return hits


def find_guards(
    school: SchoolConfig,
    *,
    consent: Mapping[str, tuple[int, int]],
    summary: Mapping[str, Mapping[str, int]],
    changes: Sequence[Change],
    baseline: Mapping[str, Record],
    released: Collection[str] = (),
) -> list[GuardHit]:
    """Every guard that fires for the plan; those in `released` (by their flags) are marked so.

    A type blocked by the consent guard is not reported by the archive guard as well: its
    archives are the consent guard's consequence, and only fixing the consent lifts them.
    """
    by_consent = consent_guards(school, consent)
    nobody = {h.type for h in by_consent}
    hits = [
        *by_consent,
        *(h for h in archive_guards(school, summary, baseline) if h.type not in nobody),
        *blank_guards(school, changes, baseline),
    ]
    return [replace(h, released=h.guard in released and h.flag is not None) for h in hits]


# -- why a plan is blocked, in words --------------------------------------------------------


def blocking(hits: Iterable[GuardHit]) -> list[GuardHit]:
    """The guards that block: fired and not lifted by a flag."""
    return [h for h in hits if not h.released]


def release_flags(hits: Iterable[GuardHit]) -> list[str] | None:
    """The flags that lift the blocking guards, in RELEASE_FLAGS order; None if one cannot be."""
    guards = {h.guard for h in blocking(hits)}
    if any(g not in RELEASE_FLAGS for g in guards):
        return None
    return [flag for guard, flag in RELEASE_FLAGS.items() if guard in guards]


def plan_next_step(urn: int, flags: Sequence[str]) -> str:
    """How to push a blocked plan after review: one school, that reviewed plan (docs/cli.md)."""
    return (
        "If the change is real, review the plan (`bromsync plan FILE --out DIR` writes it as "
        f"DIR/{urn}.plan.json, with its report beside it), then push exactly that plan with "
        f"`bromsync apply DIR/{urn}.plan.json {' '.join(flags)}`."
    )


def advice(hits: Sequence[GuardHit], next_step: str | None) -> list[str]:
    """What follows the blocking guards' findings: the likely causes, then what to do.

    `next_step` says how to lift the guards after review (None: they cannot be, as when the
    consent guard is among them).
    """
    guards = {h.guard for h in blocking(hits)}
    out = [CAUSES] if guards & set(RELEASE_FLAGS) else []
    if "consent" in guards:
        if guards - {"consent"}:
            out.append("Fix the consent first, then make a new plan.")
    elif next_step is not None:
        out.append(next_step)
    return out


def blocked_reason(hits: Sequence[GuardHit], next_step: str | None) -> str | None:
    """Why the plan is blocked, in one text (the plan's blocked_reason), or None."""
    block = blocking(hits)
    if not block:
        return None
    found = "; ".join(h.message.rstrip(".") for h in block)
    return " ".join([found + ".", *advice(block, next_step)])
