"""Read a serialised .NET DataSet (inline XML Schema + diffgram), as ASP.NET web services send it.

Bromcom answers every data call with one (docs/bromcom.md): an `xs:schema id="NewDataSet"` naming each
column and its `xs:` type, then `diffgr:diffgram/NewDataSet/Table` rows where a NULL column is
simply absent. zeep binds such a DataSet about five times slower than this, returns an empty one
raw, and converts datetimes to UTC (moving a BST date of birth back a day), so the engine reads
the raw response here instead, in one path for empty and non-empty DataSets.

This module knows nothing about Bromcom; callers turn `DataSetError` into their own errors.
"""

from __future__ import annotations

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


class DataSetError(ValueError):
    """The bytes or element are not a readable DataSet (truncated, malformed, or no schema)."""


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


def _read_row(row: etree._Element, schema: _Schema, number: int) -> Row:
    values: Row = dict.fromkeys(schema.columns)  # absent column = NULL
    cells = schema.cells
    for cell in row:
        tag = cell.tag
        if not isinstance(tag, str):  # a comment or processing instruction
            continue
        found = cells.get(tag) or cells.get(etree.QName(tag).localname)
        if found is None:
            continue  # a column the schema does not declare cannot be typed; .NET never writes one
        name, convert = found
        text = cell.text
        if text is None:
            if convert is _string:
                values[name] = ""
                continue
            raise DataSetError(
                f"row {number}: column {name} is empty but typed xs:{schema.columns[name]}"
            )
        try:
            values[name] = convert(text)
        except (ValueError, KeyError):
            raise DataSetError(
                f"row {number}: column {name} holds {text[:40]!r}, not an xs:{schema.columns[name]}"
            ) from None
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
    rows = [
        _read_row(row, schema, number)
        for number, row in enumerate(dataset.iterchildren(schema.table_tag), start=1)
    ]
    return schema.columns, rows


def _read_bytes(data: bytes) -> tuple[dict[str, str], list[Row]]:
    # Streamed: each row is read and then freed, so a large entity never sits in memory twice.
    schema: _Schema | None = None
    rows: list[Row] = []
    events = etree.iterparse(
        io.BytesIO(data), events=("end",), huge_tree=True, resolve_entities=False, no_network=True
    )
    try:
        for _, element in events:
            tag = element.tag
            if tag == _SCHEMA and schema is None:
                schema = _read_schema(element)
            elif schema is not None and tag == schema.table_tag:
                parent = element.getparent()
                grandparent = parent.getparent() if parent is not None else None
                # Only the current rows: not diffgr:before copies nor a same-named column.
                if (
                    parent is not None
                    and parent.tag == schema.dataset_tag
                    and grandparent is not None
                    and grandparent.tag == _DIFFGRAM
                ):
                    rows.append(_read_row(element, schema, len(rows) + 1))
                    element.clear()
                    while element.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as exc:
        raise DataSetError(f"the XML is not complete or not well-formed ({exc})") from None
    if schema is None:
        raise DataSetError("no DataSet in the response (no inline xs:schema)")
    return schema.columns, rows


def read_dataset(source: bytes | etree._Element) -> tuple[dict[str, str], list[Row]]:
    """Columns (name -> xs type, in schema order) and typed rows of the DataSet in `source`.

    `source` is the raw response bytes (a whole SOAP envelope is fine) or an lxml element that
    holds the DataSet (e.g. the `...Result` element). A NULL column is None in its row; a
    dateTime is a naive datetime of the wall-clock time as written, its offset dropped.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _read_bytes(bytes(source))
    return _read_element(source)
