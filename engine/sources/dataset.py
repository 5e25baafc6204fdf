"""Read a serialised .NET DataSet (inline XML Schema + diffgram), as ASP.NET web services send it.

Bromcom answers every data call with one (docs/bromcom.md): an `xs:schema id="NewDataSet"` naming each
column and its `xs:` type, then `diffgr:diffgram/NewDataSet/Table` rows where a NULL column is
simply absent. zeep binds such a DataSet about five times slower than this, returns an empty one
raw, and converts datetimes to UTC (moving a BST date of birth back a day), so the engine reads
the raw response here instead, in one path for empty and non-empty DataSets.

This module knows nothing about Bromcom; callers turn `DataSetError` into their own errors.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from engine.sources import Value

XS = "http://www.w3.org/2001/XMLSchema"
MSDATA = "urn:schemas-microsoft-com:xml-msdata"
DIFFGR = "urn:schemas-microsoft-com:xml-diffgram-v1"

_SCHEMA = f"{{{XS}}}schema"
_ELEMENT = f"{{{XS}}}element"
_DIFFGRAM = f"{{{DIFFGR}}}diffgram"
_IS_DATASET = f"{{{MSDATA}}}IsDataSet"
_COLUMN_NAME = f"{{{MSDATA}}}ColumnName"

Row = dict[str, Value]
Converter = Callable[[str], Value]
MAX_BAD = 20  # bad values located one by one; the rest are counted


@dataclass(frozen=True)
class BadValue:
    """One value of a DataSet that cannot be read as it stands, located for a person to fix."""

    row: int | None  # 1-based, in the answer's order; None when it is outside any row
    column: str | None  # its column, when it is inside one
    value: str | None  # the value as sent, each character XML forbids shown as [U+XXXX]
    ids: tuple[tuple[str, str], ...]  # the row's *ID columns, as written: (("StudentID", "1003"),)
    problem: str  # "holds the control character U+0001", "is not an xs:dateTime"


class DataSetError(ValueError):
    """The bytes or element are not a readable DataSet (truncated, malformed, or no schema).

    When particular values are why (`bad`, the first MAX_BAD of `total`), `kind` says how:
    "character" (one XML forbids, so no parser reads the answer) or "type" (a value that does
    not fit the type the inline schema gives its column).
    """

    def __init__(
        self, message: str, bad: tuple[BadValue, ...] = (), total: int = 0, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.bad = bad
        self.total = total or len(bad)
        self.kind = kind


def _wall_clock(text: str) -> dt.datetime:
    # .NET writes the server's UTC offset (2016-06-02T00:00:00+01:00 in BST). The wall-clock
    # time as written is what the school typed; converting to UTC would move dates a day back.
    return dt.datetime.fromisoformat(text.strip()).replace(tzinfo=None)


def _date(text: str) -> dt.date:
    # xs:date may carry an offset too ("2016-06-02+01:00"); the day as written is the value.
    return dt.date.fromisoformat(text.strip()[:10])


_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def _boolean(text: str) -> bool:
    return _BOOLEANS[text.strip()]


def _string(text: str) -> str:
    return text


_INTEGER_TYPES = (
    "int", "integer", "long", "short", "byte", "unsignedByte", "unsignedShort", "unsignedInt",
    "unsignedLong", "nonNegativeInteger", "positiveInteger", "negativeInteger", "nonPositiveInteger",
)  # fmt: skip
_CONVERTERS: dict[str, Converter] = {
    **{name: int for name in _INTEGER_TYPES},
    # float, not Decimal: `Value` has no Decimal, and Bromcom sends no money amounts.
    "decimal": float,
    "double": float,
    "float": float,
    "boolean": _boolean,
    "dateTime": _wall_clock,
    # dt.date is not (yet) in `Value`; .NET writes DateTime columns as xs:dateTime anyway.
    "date": _date,
}

_XML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _column_name(element: etree._Element) -> str:
    # .NET writes a column "First Name" as element "First_x0020_Name" and, sometimes, the
    # original in msdata:ColumnName.
    name: str | None = element.get(_COLUMN_NAME)
    if name:
        return name
    return _XML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), element.get("name", ""))


def _type_name(element: etree._Element) -> str:
    qname = element.get("type")
    if qname is None:
        # A column with a length limit: <xs:simpleType><xs:restriction base="xs:string">.
        restriction = element.find(f"{{{XS}}}simpleType/{{{XS}}}restriction")
        qname = restriction.get("base", "string") if restriction is not None else "string"
    return str(qname).rpartition(":")[2]


@dataclass
class _Schema:
    dataset_tag: str  # the element under the diffgram that holds the rows ("NewDataSet")
    table_tag: str  # the element of one row ("Table"); "" when the DataSet has no table
    columns: dict[str, str]  # column name -> xs type name, in schema order
    cells: dict[str, tuple[str, Converter]]  # element tag -> (column name, converter)


def _read_schema(schema: etree._Element) -> _Schema:
    top = {el.get("name"): el for el in schema.iterchildren(_ELEMENT)}
    dataset = next((el for el in top.values() if el.get(_IS_DATASET) == "true"), None)
    if dataset is None:
        raise DataSetError("the inline schema has no element marked msdata:IsDataSet")
    tables = [
        top.get(el.get("ref", "").rpartition(":")[2], el) if el.get("ref") else el
        for el in dataset.iterfind(f"{{{XS}}}complexType/{{{XS}}}choice/{{{XS}}}element")
    ]
    columns: dict[str, str] = {}
    cells: dict[str, tuple[str, Converter]] = {}
    if not tables:  # an empty DataSet: no table at all, and an empty diffgram
        return _Schema(dataset.get("name", "NewDataSet"), "", columns, cells)
    # Bromcom fills one table per call; should a DataSet ever carry more, the first is the data.
    table = tables[0]
    for column in table.iterfind(f"{{{XS}}}complexType/{{{XS}}}sequence/{{{XS}}}element"):
        name, type_name = _column_name(column), _type_name(column)
        columns[name] = type_name
        cells[column.get("name", name)] = (name, _CONVERTERS.get(type_name, _string))
    return _Schema(dataset.get("name", "NewDataSet"), table.get("name", "Table"), columns, cells)


class _BadValues:
    """The values of one answer that do not fit their column's type: all counted, a few kept."""

    def __init__(self) -> None:
        self.found: list[BadValue] = []
        self.total = 0

    def add(self, row: etree._Element, number: int, column: str, text: str, xs_type: str) -> None:
        self.total += 1
        if len(self.found) < MAX_BAD:
            ids = tuple(
                (name, (cell.text or "").strip())
                for cell in row
                if isinstance(cell.tag, str)
                and (name := _element_name(etree.QName(cell.tag).localname.encode())).endswith("ID")
                and cell.text
            )
            problem = f"is not an xs:{xs_type}" if text else f"is empty, but typed xs:{xs_type}"
            self.found.append(BadValue(number, column, text, ids, problem))

    def check(self) -> None:
        if not self.total:
            return
        first = self.found[0]
        xs_type = first.problem.rpartition(" ")[2]
        said = (
            f"holds {first.value[:40]!r}, not an {xs_type}"
            if first.value
            else f"is empty but typed {xs_type}"
        )
        more = f"; and {self.total - 1} more" if self.total > 1 else ""
        raise DataSetError(
            f"{self.total} value{'s do' if self.total != 1 else ' does'} not fit the type "
            f"the answer's own schema gives {'their columns' if self.total != 1 else 'its column'}"
            f" (row {first.row}: column {first.column} {said}{more})",
            tuple(self.found),
            self.total,
            "type",
        )


def _read_row(row: etree._Element, schema: _Schema, number: int, bad: _BadValues) -> Row:
    values: Row = dict.fromkeys(schema.columns)  # absent column = NULL
    cells = schema.cells
    for cell in row:
        found = cells.get(cell.tag)
        if found is None:
            tag = cell.tag
            if not isinstance(tag, str):  # a comment or processing instruction
                continue
            found = cells.get(etree.QName(tag).localname)
            if found is None:
                continue  # a column the schema does not declare cannot be typed; .NET never writes one
        name, convert = found
        text = cell.text
        if convert is _string:
            values[name] = "" if text is None else text
            continue
        if text is None:
            bad.add(row, number, name, "", schema.columns[name])
            continue
        try:
            values[name] = convert(text)
        except (ValueError, KeyError):
            bad.add(row, number, name, text, schema.columns[name])
    return values


def _find_schema(root: etree._Element) -> etree._Element:
    if root.tag == _SCHEMA:
        return root
    # The schema comes before the rows in document order, so this stops early.
    for schema in root.iter(_SCHEMA):
        return schema
    raise DataSetError("no DataSet in the response (no inline xs:schema)")


def _read_element(root: etree._Element) -> tuple[dict[str, str], list[Row]]:
    schema_el = _find_schema(root)
    schema = _read_schema(schema_el)
    parent = schema_el.getparent()
    diffgram = parent.find(_DIFFGRAM) if parent is not None else None
    if diffgram is None or not schema.table_tag:
        return schema.columns, []
    dataset = diffgram.find(schema.dataset_tag)
    if dataset is None:  # a table without rows: .NET writes an empty diffgram
        return schema.columns, []
    bad = _BadValues()
    rows = [
        _read_row(row, schema, number, bad)
        for number, row in enumerate(dataset.iterchildren(schema.table_tag), start=1)
    ]
    bad.check()
    return schema.columns, rows


def _parser(data: bytes, tag: str) -> etree.iterparse:
    # Events for `tag` alone: the parser still reads every element, but Python sees only these.
    return etree.iterparse(
        io.BytesIO(data), events=("end",), tag=tag, huge_tree=True, resolve_entities=False,
        no_network=True,
    )  # fmt: skip


def _read_bytes(data: bytes) -> tuple[dict[str, str], list[Row]]:
    # Streamed: each row is read and then freed, so a large entity never sits in memory twice.
    schema: _Schema | None = None
    rows: list[Row] = []
    bad = _BadValues()
    try:
        # The schema comes first, so this reads no further than its end.
        for _, element in _parser(data, _SCHEMA):
            schema = _read_schema(element)
            break
        if schema is None:
            raise DataSetError("no DataSet in the response (no inline xs:schema)")
        if not schema.table_tag:
            return schema.columns, rows
        for _, element in _parser(data, schema.table_tag):
            parent = element.getparent()
            grandparent = parent.getparent() if parent is not None else None
            # Only the current rows: not diffgr:before copies nor a same-named column.
            if (
                parent is not None
                and parent.tag == schema.dataset_tag
                and grandparent is not None
                and grandparent.tag == _DIFFGRAM
            ):
                rows.append(_read_row(element, schema, len(rows) + 1, bad))
                element.clear()
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        found, total = find_bad_characters(data, schema.table_tag if schema else "Table")
        if found:
            raise DataSetError(
                f"{total} value{'s' if total != 1 else ''} hold{'' if total != 1 else 's'} a "
                "character that XML does not allow",
                found,
                total,
                "character",
            ) from None
        raise DataSetError(f"the XML is not complete or not well-formed ({exc})") from None
    bad.check()
    return schema.columns, rows


# XML 1.0's Char production: what a document may hold, written or as a character reference.
_XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Candidates: a raw C0 control byte (always one byte in UTF-8), or any numeric reference.
_SUSPECT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|&#(?:x([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")
_CELL = re.compile(rb"<([A-Za-z_][\w.-]*)>([^<]*)</\1>")
_OPEN_CELL = re.compile(rb"<([A-Za-z_][\w.-]*)>[^<]*\Z")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_REFERENCE = re.compile(r"&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|(amp|lt|gt|quot|apos));")


def _allowed(code: int) -> bool:
    return code <= 0x10FFFF and _XML_CHAR.fullmatch(chr(code)) is not None


def _shown(raw: bytes) -> str:
    """A cell's text as it was meant, with each forbidden character written [U+XXXX]."""

    def one(m: re.Match[str]) -> str:
        if m.group(3):
            return _NAMED[m.group(3)]
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        return chr(code) if _allowed(code) else f"[U+{code:04X}]"

    text = raw.decode("utf-8", "replace")
    text = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", lambda m: f"[U+{ord(m.group()):04X}]", text)
    return _REFERENCE.sub(one, text)


def find_bad_characters(data: bytes, table_tag: str = "Table") -> tuple[tuple[BadValue, ...], int]:
    """The first MAX_BAD characters XML forbids in `data`, each located, and how many in all.

    Read from the raw bytes with regular expressions, since no XML parser will read past the
    first one: the row is the `<Table>` element around it, the column the cell it is in, and
    the row's *ID cells (StudentID, PersonID...) say whose record it is.
    """
    found: list[BadValue] = []
    total = 0
    tag = re.escape(table_tag.encode())
    starts = [m.start() for m in re.finditer(rb"<" + tag + rb"[\s>]", data)]
    for match in _SUSPECT.finditer(data):
        hexa, decimal = match.group(1), match.group(2)
        code = int(hexa, 16) if hexa else int(decimal) if decimal else match.group()[0]
        if _allowed(code):
            continue
        total += 1
        if len(found) == MAX_BAD:
            continue
        at = match.start()
        row = bisect.bisect_right(starts, at)
        column = value = None
        ids: tuple[tuple[str, str], ...] = ()
        if row:
            begin = starts[row - 1]
            end = data.find(b"</" + table_tag.encode() + b">", begin)
            if end == -1 or end < at:
                end = starts[row] if row < len(starts) else len(data)
            cells = _CELL.findall(data, begin, end)
            ids = tuple((_element_name(n), _shown(v)) for n, v in cells if n.endswith(b"ID") and v)
            inside = _OPEN_CELL.search(data, begin, at)
            if inside:
                column = _element_name(inside.group(1))
                close = data.find(b"<", at)
                value = _shown(data[inside.end(1) + 1 : close if close != -1 else len(data)])
        if code == 0:
            problem = "holds a NUL character (U+0000)"
        elif code <= 0x1F:
            problem = f"holds the control character U+{code:04X}"
        else:
            problem = f"holds the character U+{code:04X}, which is not text"
        found.append(BadValue(row or None, column, value, ids, problem))
    return tuple(found), total


def _element_name(raw: bytes) -> str:
    return _XML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw.decode("utf-8", "replace"))


def read_dataset(source: bytes | etree._Element) -> tuple[dict[str, str], list[Row]]:
    """Columns (name -> xs type, in schema order) and typed rows of the DataSet in `source`.

    `source` is the raw response bytes (a whole SOAP envelope is fine) or an lxml element that
    holds the DataSet (e.g. the `...Result` element). A NULL column is None in its row; a
    dateTime is a naive datetime of the wall-clock time as written, its offset dropped.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _read_bytes(bytes(source))
    return _read_element(source)
