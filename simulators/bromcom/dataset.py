"""Write a .NET DataSet the way ASP.NET serialises one in an .asmx response.

An inline `xs:schema` (id NewDataSet, one `xs:element` per column with its `xs:` type), then a
`diffgr:diffgram` holding `<NewDataSet><Table>` rows; a NULL column is left out of its row.
Bromcom's servers run on UK time and a DataSet writes a dateTime with the server's offset for
that date, so a date of birth in summer reads `2016-06-02T00:00:00+01:00`. The offset is
computed from the BST rule rather than tzdata, which a slim machine may not have.

Built as strings (escaped here) rather than a tree: a 2,000-row Students answer must take
milliseconds, and rows are rendered once per data-file load and reused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

Column = tuple[str, str]  # (name, xs type without prefix)
XS_TYPES = ("int", "string", "boolean", "dateTime", "decimal")

_SCHEMA_OPEN = (
    '<xs:schema id="NewDataSet" xmlns="" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:msdata="urn:schemas-microsoft-com:xml-msdata">'
    '<xs:element name="NewDataSet" msdata:IsDataSet="true" msdata:UseCurrentLocale="true">'
    "<xs:complexType>"
)
_SCHEMA_CLOSE = "</xs:complexType></xs:element></xs:schema>"
_DIFFGRAM_ATTRS = (
    'xmlns:msdata="urn:schemas-microsoft-com:xml-msdata" '
    'xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"'
)


# Characters XML 1.0 forbids even as references. .NET's XmlTextWriter (which writes a DataSet
# into an .asmx answer) does not check them: it writes each as a character reference, `&#x1;`,
# and a lone surrogate the same way, so a control character typed or pasted into Bromcom
# reaches the client as an answer no XML parser accepts. Bromcom sends such answers.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape_text(text: str) -> str:
    """Escape character data as .NET's XmlTextWriter does (it escapes '>' too)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#xD;")
    if _FORBIDDEN.search(text):
        text = _FORBIDDEN.sub(lambda m: f"&#x{ord(m.group()):X};", text)
    return text


def escape_attr(text: str) -> str:
    return escape_text(text).replace('"', "&quot;")


def _last_sunday(year: int, month: int) -> dt.date:
    first_of_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = first_of_next - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() + 1) % 7)


def uk_offset(local: dt.datetime) -> dt.timedelta:
    """The UK's UTC offset at this wall-clock time: BST from the last Sunday of March 01:00 UTC
    to the last Sunday of October 01:00 UTC. The repeated hour in October is read as GMT, as
    .NET reads an ambiguous local time."""
    start = dt.datetime.combine(_last_sunday(local.year, 3), dt.time(1))
    end = dt.datetime.combine(_last_sunday(local.year, 10), dt.time(1))
    return dt.timedelta(hours=1) if start <= local < end else dt.timedelta(0)


def uk_now() -> dt.datetime:
    """The wall-clock time in the UK now, naive, as a Bromcom server's GETDATE() gives it."""
    utc = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # The rule's boundaries are UTC instants, so reading `utc` as wall-clock time is exact.
    return utc + uk_offset(utc)


def format_datetime(value: dt.datetime) -> str:
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + ("+01:00" if uk_offset(value) else "+00:00")


def format_value(value: object, xs_type: str) -> str:
    """The escaped XML text of one non-NULL cell."""
    if xs_type == "dateTime":
        assert isinstance(value, dt.datetime)
        return format_datetime(value)
    if xs_type == "boolean":
        return "true" if value else "false"
    if xs_type == "string":
        return escape_text(str(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def render_cells(row: dict[str, object], columns: Sequence[Column]) -> tuple[str, ...]:
    """A row's child elements, in column order, leaving out NULL columns."""
    return tuple(
        f"<{name}>{format_value(row[name], xs_type)}</{name}>"
        for name, xs_type in columns
        if row.get(name) is not None
    )


def schema(columns: Sequence[Column]) -> str:
    if not columns:
        return _SCHEMA_OPEN + '<xs:choice minOccurs="0" maxOccurs="unbounded" />' + _SCHEMA_CLOSE
    elements = "".join(
        f'<xs:element name="{name}" type="xs:{xs_type}" minOccurs="0" />'
        for name, xs_type in columns
    )
    return (
        _SCHEMA_OPEN
        + '<xs:choice minOccurs="0" maxOccurs="unbounded"><xs:element name="Table">'
        + f"<xs:complexType><xs:sequence>{elements}</xs:sequence></xs:complexType>"
        + "</xs:element></xs:choice>"
        + _SCHEMA_CLOSE
    )


def diffgram(rows: Iterable[tuple[str, ...]]) -> str:
    parts = [
        f'<Table diffgr:id="Table{n + 1}" msdata:rowOrder="{n}">{"".join(cells)}</Table>'
        for n, cells in enumerate(rows)
    ]
    if not parts:
        return f"<diffgr:diffgram {_DIFFGRAM_ATTRS} />"
    return (
        f'<diffgr:diffgram {_DIFFGRAM_ATTRS}><NewDataSet xmlns="">'
        + "".join(parts)
        + "</NewDataSet></diffgr:diffgram>"
    )


def dataset(columns: Sequence[Column], rows: Sequence[tuple[str, ...]]) -> str:
    """The inner XML of a `...Result` element: schema then diffgram."""
    return schema(columns) + diffgram(rows)


def get_xml(rows: Sequence[tuple[str, ...]]) -> str:
    """The DataSet as `DataSet.GetXml()` writes it (indented, no schema), unescaped."""
    if not rows:
        return "<NewDataSet />"
    lines = ["<NewDataSet>"]
    for cells in rows:
        lines.append("  <Table>")
        lines.extend(f"    {cell}" for cell in cells)
        lines.append("  </Table>")
    lines.append("</NewDataSet>")
    return "\n".join(lines)
