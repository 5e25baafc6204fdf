"""The record formats of the ParentPay People API, as the simulator enforces them.

Written from the contract's table (docs/parentpay-api.md), not shared with the engine's client: the point of the
simulator is to catch a client that drifts from the contract, which a shared model would hide.
Every problem message starts with the field's name so a support agent can find it at a glance.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

TYPES = ("pupil", "staff", "preadmission")
STATUSES = ("active", "archived")

_PUPIL = (
    "upn", "admission_number", "forename", "surname", "legal_forename", "legal_surname",
    "dob", "gender", "year_code", "reg_group", "fsm", "fsm_start", "fsm_end",
    "payer_email", "payer_mobile", "dietary",
)  # fmt: skip
FIELDS: dict[str, tuple[str, ...]] = {
    "pupil": _PUPIL,
    "preadmission": (*(f for f in _PUPIL if f != "reg_group"), "admission_date"),
    "staff": ("title", "forename", "surname", "email", "mobile"),
}

YEAR_CODES = ("N1", "N2", "R", *(str(n) for n in range(1, 15)))
GENDERS = ("M", "F", "X")
MAX_MOBILE_DIGITS = 15
MAX_MIS_ID_LENGTH = 64

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Deliberately loose: one @, something either side, a dot in the domain, no spaces. ParentPay
# sends activation codes to it, so "n/a" or "01234 567890" in an email field must be refused.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be text or null"


def _date(value: Any) -> str | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return f"must be a date written YYYY-MM-DD or null, not {value!r}"
    try:
        date.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not a real date"
    return None


def _gender(value: Any) -> str | None:
    return None if value in GENDERS else f"must be M, F or X or null, not {value!r}"


def _year_code(value: Any) -> str | None:
    if isinstance(value, str) and value in YEAR_CODES:
        return None
    return f"must be one of N1, N2, R, 1 to 14 or null, not {value!r}"


def _email(value: Any) -> str | None:
    if isinstance(value, str) and _EMAIL.fullmatch(value):
        return None
    return f"must be an email address or null, not {value!r}"


def _mobile(value: Any) -> str | None:
    # Spaces and one leading "+" are how people write numbers; anything else (dashes,
    # brackets, "ext") is not a number ParentPay can text an activation code to.
    if not isinstance(value, str):
        return f"must be a phone number as text or null, not {value!r}"
    digits = value.replace(" ", "")
    digits = digits.removeprefix("+")
    if not digits.isascii() or not digits.isdigit():
        return f"must hold only digits, spaces and a leading +, not {value!r}"
    if len(digits) > MAX_MOBILE_DIGITS:
        return f"has {len(digits)} digits; a mobile number has at most {MAX_MOBILE_DIGITS}"
    return None


def _dietary(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return "must be a list of non-empty texts or null"
    if len(set(value)) != len(value):
        return "lists the same need twice"
    if value != sorted(value):
        return "must be sorted by code point"
    return None


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "dob": _date,
    "fsm_start": _date,
    "fsm_end": _date,
    "admission_date": _date,
    "gender": _gender,
    "year_code": _year_code,
    "payer_email": _email,
    "email": _email,
    "payer_mobile": _mobile,
    "mobile": _mobile,
    "dietary": _dietary,
}


def field_problem(name: str, value: Any) -> str | None:
    """Why `value` is not acceptable for field `name`, or None when it is."""
    if name == "fsm":
        # Never null: the contract says fsm is false when no free-meal period covers today.
        return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
    if value is None:
        return None
    return _CHECKS.get(name, _text)(value)


def problems(type_: str, fields: Mapping[str, Any], *, whole: bool) -> list[str]:
    """Every format problem in `fields` of a `type_` record, each naming its field.

    `whole` is for create and convert, which must carry every field of the type.
    """
    allowed = FIELDS[type_]
    found: list[str] = []
    unknown = [name for name in fields if name not in allowed]
    if unknown:
        found.append(f"{', '.join(sorted(unknown))}: not a {type_} field")
    if whole:
        missing = [name for name in allowed if name not in fields]
        if missing:
            found.append(f"{', '.join(missing)}: missing (send null when unknown)")
    for name in allowed:
        if name in fields:
            problem = field_problem(name, fields[name])
            if problem:
                found.append(f"{name}: {problem}")
    return found


def mis_id_problem(value: Any, name: str = "mis_id") -> str | None:
    """Why `value` cannot be a mis_id, or None when it can."""
    if not isinstance(value, str) or not value.strip():
        return f"{name}: must be non-empty text, not {value!r}"
    if value != value.strip():
        return f"{name}: has spaces at the start or end ({value!r})"
    if len(value) > MAX_MIS_ID_LENGTH:
        return f"{name}: longer than {MAX_MIS_ID_LENGTH} characters"
    return None
