"""ParentPay's manual-upload CSV files: the format, the formula guard, and an atomic write.

The target for a school without the integration: `bromsync export` writes these files and a
person uploads them with ParentPay's MIS Sync. docs/export.md says why each rule is as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.checks.run import CheckHit
from engine.errors import ConfigError
from engine.files import write_private
from engine.records import RECORD_FIELDS, TYPES, Record, natural_key

HEADERS = {kind: ("mis_id", *fields) for kind, fields in RECORD_FIELDS.items()}
TRUE, FALSE = "TRUE", "FALSE"
DIETARY_SEPARATOR = "; "

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection"). A cell of nothing but digits, spaces and + - ( ) . can at most be
# sums (a "+44 7700 900123" mobile), never a function call or a link, so it is safe as it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ARITHMETIC_ONLY = re.compile(r"[0-9 +\-().]*")
FORMULA_CHECK = "csv_formula_value"


def cell(value: Any) -> str:
    """One field as written in the file: see docs/export.md for each rule."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return TRUE if value else FALSE
    if isinstance(value, (list, tuple)):
        return DIETARY_SEPARATOR.join(cell(v) for v in value)
    return str(value)


def row_of(kind: str, record: Record) -> list[str]:
    """A record's cells, in the order of HEADERS[kind]."""
    return [
        cell(record["mis_id"]),
        *(cell(record["fields"].get(name)) for name in RECORD_FIELDS[kind]),
    ]


def render_csv(kind: str, records: Iterable[Record]) -> tuple[str, int]:
    """The file's text (RFC 4180, CRLF line ends; the BOM is added on writing) and its row count.

    Rows are in natural mis_id order (2 before 10), so two exports of the same data are identical.
    """
    ordered = sorted(records, key=lambda r: natural_key(r["mis_id"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADERS[kind])
    writer.writerows(row_of(kind, r) for r in ordered)
    return buffer.getvalue(), len(ordered)


def formula_like(text: str) -> bool:
    """Whether a spreadsheet opening the file would run this cell as a formula."""
    return text.startswith(_FORMULA_START) and not _ARITHMETIC_ONLY.fullmatch(text)


def formula_hits(records: Iterable[Record]) -> list[CheckHit]:
    """An error per type for records with a cell a spreadsheet would run as a formula.

    Such a record is held back rather than altered: a leading apostrophe (the usual defence)
    would be uploaded into ParentPay as part of the name, and bromsync never changes a value to
    get a record through (docs/cli.md).
    """
    found: dict[str, dict[str, list[str]]] = {}
    for record in records:
        kind = record["type"]
        names = HEADERS[kind]
        bad = [
            name
            for name, text in zip(names, row_of(kind, record), strict=True)
            if formula_like(text)
        ]
        if bad:
            found.setdefault(kind, {})[record["mis_id"]] = bad
    hits = []
    for kind in (k for k in TYPES if k in found):
        flagged = found[kind]
        ids = sorted(flagged, key=natural_key)
        hits.append(
            CheckHit(
                name=FORMULA_CHECK,
                severity="error",
                type=kind,
                records=ids,
                message="A value of these records starts with =, +, -, @ or a tab, so a spreadsheet "
                "opening the export file would run it as a formula; the records are left out of the "
                "file (bromsync does not alter the value).",
                remediation="Correct the field named above in Bromcom (a name, email or mobile cannot "
                "start like a formula), then export again.",
                details=[f"{mis_id}: {', '.join(flagged[mis_id])}" for mis_id in ids],
            )
        )
    return hits


def write_atomic(path: Path, text: str) -> None:
    """Write `text` as UTF-8 with a BOM, replacing `path` in one step.

    A reader (MIS Sync, a person) sees the old file or the new one, never half of one. The file
    is readable by its owner only, in a folder made 0700: it holds children's personal data.
    """
    try:
        # utf-8-sig: without the BOM, Excel reads UTF-8 as Windows-1252 and Siân becomes SiÃ¢n.
        write_private(path, text, encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}; choose another --out folder") from exc
