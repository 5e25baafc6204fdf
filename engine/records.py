"""What a ParentPay record is (docs/parentpay-api.md): the one home of per-type facts.

This is knowledge of the target, not of Bromcom: the mappings say where each field comes from,
this module says which fields a record of each type has, how people of that type are named
in messages, and what the tables and files that hold them are called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_PUPIL_LIKE = (
    "upn",
    "admission_number",
    "forename",
    "surname",
    "legal_forename",
    "legal_surname",
    "dob",
    "gender",
    "year_code",
)
_MEALS_AND_PAYER = (
    "fsm",
    "fsm_start",
    "fsm_end",
    "payer_email",
    "payer_mobile",
    "dietary",
)


@dataclass(frozen=True)
class RecordType:
    """One upload type: its ParentPay fields and the words and names used for it."""

    name: str  # the ParentPay type: pupil, staff, preadmission
    option: str  # the school file's upload option, the mapping file and table stem: pupils...
    fields: tuple[str, ...]
    one: str  # "3 pupils", "1 member of staff"
    many: str
    title: str  # a report heading

    @property
    def view(self) -> str:
        """The analysts' view of this type's records as last synced."""
        return f"current_{self.option}"


DATE_FIELDS = frozenset({"dob", "fsm_start", "fsm_end", "admission_date"})

# Masked as "***" in human-readable reports unless --show-sensitive (docs/plan.md).
SENSITIVE_FIELDS = frozenset({"dietary", "fsm", "fsm_start", "fsm_end"})

RECORD_TYPES: dict[str, RecordType] = {
    t.name: t
    for t in (
        RecordType(
            "pupil",
            "pupils",
            (*_PUPIL_LIKE, "reg_group", *_MEALS_AND_PAYER),
            "pupil",
            "pupils",
            "Pupils",
        ),
        RecordType("staff", "staff", ("title", "forename", "surname", "email", "mobile"), "member of staff", "staff", "Staff"),
        RecordType(
            "preadmission",
            "preadmissions",
            (*_PUPIL_LIKE, *_MEALS_AND_PAYER, "admission_date"),
            "pre-admission",
            "pre-admissions",
            "Pre-admissions",
        ),
    )
}  # fmt: skip

# Upload types in the order plans, reports and summaries list them.
TYPES = tuple(RECORD_TYPES)
# Pupil, pre-admission, staff: the order the state's acknowledged_people columns were made in.
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    name: RECORD_TYPES[name].fields for name in ("pupil", "preadmission", "staff")
}

# How people are counted in messages: "3 of 8 pupils", "none of its 12 pre-admissions".
PLURALS = {t.name: t.many for t in RECORD_TYPES.values()}

PARENTPAY_YEAR_CODES = ("N1", "N2", "R", *(str(n) for n in range(1, 15)))

# The operations a plan holds, in the order a summary lists them.
OPS = ("create", "update", "archive", "restore", "convert")

Record = dict[str, Any]  # {"mis_id": str, "type": str, "fields": {...}}


# One operation's outcome, at its position in the whole push: index, mis_id, status
# ("applied" | "rejected"), code, message, op, type, upload_id, idempotency_key (of its batch)
# and operation (the operation as sent).
OpResult = dict[str, Any]


def natural_key(mis_id: str) -> tuple[bool, int, str]:
    """Numeric IDs in numeric order, then the rest alphabetically."""
    return (not mis_id.isdigit(), int(mis_id) if mis_id.isdigit() else 0, mis_id)
