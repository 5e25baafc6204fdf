"""The simulator's DataSet writer: UK offsets on dateTime values, computed by the BST rule (no
tzdata needed), and text escaped as .NET escapes it."""

from __future__ import annotations

import datetime as dt

import pytest

from simulators.bromcom.dataset import escape_text, format_datetime, get_xml, uk_offset


@pytest.mark.parametrize(
    ("local", "written"),
    [
        ("2016-06-02T00:00:00", "2016-06-02T00:00:00+01:00"),
        ("2016-01-05T00:00:00", "2016-01-05T00:00:00+00:00"),
        # 2024: BST from Sunday 31 March 01:00 GMT to Sunday 27 October 01:00 GMT
        ("2024-03-31T00:59:59", "2024-03-31T00:59:59+00:00"),
        ("2024-03-31T02:00:00", "2024-03-31T02:00:00+01:00"),
        ("2024-10-27T00:59:59", "2024-10-27T00:59:59+01:00"),
        ("2024-10-27T01:30:00", "2024-10-27T01:30:00+00:00"),  # the repeated hour reads as GMT
        ("2023-03-26T12:00:00", "2023-03-26T12:00:00+01:00"),
        ("2023-03-25T12:00:00", "2023-03-25T12:00:00+00:00"),
        ("2023-10-29T00:00:00", "2023-10-29T00:00:00+01:00"),
        ("2023-10-30T00:00:00", "2023-10-30T00:00:00+00:00"),
        ("2020-08-01T10:15:30.500000", "2020-08-01T10:15:30.5+01:00"),
    ],
)
def test_datetime_is_written_with_the_uk_offset_of_its_date(local: str, written: str) -> None:
    assert format_datetime(dt.datetime.fromisoformat(local)) == written


def test_every_day_of_a_year_has_the_offset_tzdata_would_give() -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        london = zoneinfo.ZoneInfo("Europe/London")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no tzdata on this machine to compare with")
    for day in range(366 * 3):
        noon = dt.datetime(2023, 1, 1, 12) + dt.timedelta(days=day)
        assert uk_offset(noon) == noon.replace(tzinfo=london).utcoffset(), noon


def test_get_xml_layout() -> None:
    assert get_xml([]) == "<NewDataSet />"
    assert (
        get_xml([("<A>1</A>",)])
        == "<NewDataSet>\n  <Table>\n    <A>1</A>\n  </Table>\n</NewDataSet>"
    )


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("Ol\x01ivia", "Ol&#x1;ivia"),
        ("\x00\x08\x0b\x0c\x0e\x1f", "&#x0;&#x8;&#xB;&#xC;&#xE;&#x1F;"),
        ("Sm\ud800ith", "Sm&#xD800;ith"),
        ("\ufffe\uffff", "&#xFFFE;&#xFFFF;"),
        ("a\tb\nc\rd & <e>", "a\tb\nc&#xD;d &amp; &lt;e&gt;"),  # text XML allows, as before
    ],
)
def test_characters_xml_forbids_are_written_as_references_as_dotnet_does(
    text: str, written: str
) -> None:
    # .NET's XmlTextWriter does not check characters, so Bromcom's answer is then not XML.
    assert escape_text(text) == written
