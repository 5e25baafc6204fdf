"""What a ParentPay record is (CONTRACTS 5): the fields of each type and which are sensitive.

This is knowledge of the target, not of Bromcom: the mappings say where each field comes from,
this module says which fields a record of each type must have.
"""

from __future__ import annotations

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

RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "pupil": (*_PUPIL_LIKE, "reg_group", *_MEALS_AND_PAYER),
    "preadmission": (*_PUPIL_LIKE, *_MEALS_AND_PAYER, "admission_date"),
    "staff": ("title", "forename", "surname", "email", "mobile"),
}

# Masked as "***" in human-readable reports unless --show-sensitive (CONTRACTS 4).
SENSITIVE_FIELDS = frozenset({"dietary", "fsm", "fsm_start", "fsm_end"})

# How people are counted in messages: "3 of 8 pupils", "none of its 12 pre-admissions".
PLURALS = {"pupil": "pupils", "staff": "staff", "preadmission": "pre-admissions"}

PARENTPAY_YEAR_CODES = ("N1", "N2", "R", *(str(n) for n in range(1, 15)))

Record = dict[str, Any]  # {"mis_id": str, "type": str, "fields": {...}}
