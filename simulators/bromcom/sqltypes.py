"""SQL Server's value rules, as far as an entityFilter can reach them.

Comparisons follow SQL Server's data type precedence (datetime > decimal > int > bit >
varchar): the lower-ranked side is converted, so `StartDate > '20100901'` compares dates and
`StudentID = '1052'` compares integers. Strings compare as the default collation
(SQL_Latin1_General_CP1_CI_AS) does: case-insensitive, trailing spaces ignored. A value that
will not convert raises the error SQL Server would, at the row where it happens.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

Value = int | Decimal | str | bool | dt.datetime | None


class FilterError(Exception):
    """An entityFilter SQL Server would refuse; `reason` is SQL Server's own message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_DATE_FORMS = [
    # SQL Server's language-neutral forms first; 'YYYY-MM-DD' is read as us_english does.
    re.compile(r"(\d{4})(\d{2})(\d{2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"),
    re.compile(
        r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T\s](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    ),
    re.compile(
        r"(\d{4})/(\d{1,2})/(\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    ),
]
_BASE_DATE = dt.datetime(1900, 1, 1)


def to_datetime(value: Value) -> dt.datetime:
    """Convert like CONVERT(datetime, value); raise SQL Server's error when it cannot."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        for form in _DATE_FORMS:
            m = form.fullmatch(text)
            if m:
                y, mo, d, h, mi, s, frac = m.groups()
                try:
                    micro = int((frac or "0").ljust(6, "0")[:6])
                    return dt.datetime(
                        int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro
                    )
                except ValueError:
                    break
        raise FilterError(
            "Conversion failed when converting date and/or time from character string."
        )
    if isinstance(value, bool):
        raise FilterError("Explicit conversion from data type bit to datetime is not allowed.")
    if isinstance(value, int | Decimal):
        # SQL Server reads a number as days since 1900-01-01.
        return _BASE_DATE + dt.timedelta(days=float(value))
    raise FilterError("Conversion failed when converting date and/or time from character string.")


def _to_int(value: Value) -> int:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise FilterError(
                f"Conversion failed when converting the varchar value '{value}' to data type int."
            ) from None
    return int(value)  # type: ignore[arg-type]


def _to_decimal(value: Value) -> Decimal:
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise FilterError("Error converting data type varchar to numeric.") from None
    return Decimal(int(value) if isinstance(value, bool) else value)  # type: ignore[arg-type]


def _to_bit(value: Value) -> bool:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return text == "true"
        try:
            return int(text) != 0
        except ValueError:
            raise FilterError(
                f"Conversion failed when converting the varchar value '{value}' to data type bit."
            ) from None
    return bool(value)


def _rank(value: Value) -> int:
    if isinstance(value, dt.datetime):
        return 4
    if isinstance(value, Decimal):
        return 3
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 2
    return 0


def _string_key(value: str) -> str:
    return value.rstrip(" ").casefold()


def compare(left: Value, right: Value) -> int | None:
    """-1, 0 or 1 as SQL Server orders the two values; None (unknown) if either is NULL."""
    if left is None or right is None:
        return None
    rank = max(_rank(left), _rank(right))
    a: object
    b: object
    if rank == 4:
        a, b = to_datetime(left), to_datetime(right)
    elif rank == 3:
        a, b = _to_decimal(left), _to_decimal(right)
    elif rank == 2:
        a, b = _to_int(left), _to_int(right)
    elif rank == 1:
        a, b = _to_bit(left), _to_bit(right)
    else:
        a, b = _string_key(str(left)), _string_key(str(right))
    return (a > b) - (a < b)  # type: ignore[operator]


def to_varchar(value: Value) -> str | None:
    """The text SQL Server compares in a LIKE: style 0 for dates, 1/0 for bits."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        hour = value.hour % 12 or 12
        ampm = "AM" if value.hour < 12 else "PM"
        return f"{value:%b} {value.day:>2} {value.year} {hour:>2}:{value:%M}{ampm}"
    return str(value)


@lru_cache(maxsize=256)
def like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    """Translate a LIKE pattern (%, _, [set], [^set], ESCAPE) to a case-insensitive regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if escape is not None and ch == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("^")
                body = body[1:] if negate else body
                items = "".join(
                    "-" if c == "-" and 0 < k < len(body) - 1 else re.escape(c)
                    for k, c in enumerate(body)
                )
                out.append(f"[{'^' if negate else ''}{items}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def between(value: Value, low: Value, high: Value) -> bool | None:
    """value BETWEEN low AND high, three-valued."""
    above, below = compare(value, low), compare(value, high)
    if (above is not None and above < 0) or (below is not None and below > 0):
        return False
    return None if above is None or below is None else True


def in_list(value: Value, items: list[Value]) -> bool | None:
    """value IN (items): unknown when not found and an item compared unknown (a NULL)."""
    unknown = False
    for item in items:
        order = compare(value, item)
        if order == 0:
            return True
        unknown = unknown or order is None
    return None if unknown else False


def like(value: Value, pattern: Value, escape: Value) -> bool | None:
    """value LIKE pattern [ESCAPE escape], three-valued."""
    text, pat = to_varchar(value), to_varchar(pattern)
    if text is None or pat is None:
        return None
    esc = to_varchar(escape)
    if esc is not None and len(esc) != 1:
        raise FilterError(
            f'The invalid escape character "{esc}" was specified in a LIKE predicate.'
        )
    return like_regex(pat, esc).fullmatch(text) is not None
