"""Recording Bromcom's answers (`--record DIR`): scrubbing, the folder's layout, the source's hook.

The source is driven against the hand-written scripted server (tests/helpers/soap_server.py), so
what is recorded is checked against bytes this test wrote, not against the simulator's writer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from engine.errors import BromcomCredentialsError, BromcomFault, ConfigError
from engine.sources.bromcom import BromcomSource
from engine.sources.recording import FORMAT, MANIFEST, Recorder, scrub, scrub_text
from tests.helpers.soap_server import (
    PASSWORD_ENV,
    WSDL,
    Reply,
    SoapServer,
    fixture,
    gateway_error,
    make_school,
)

USER = "parentpay_oakfield"
SECRET = "s3cret'pw&<x>"  # every character an XML writer may escape
ECHO_FAULT = (
    b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
    b'xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault><soap:Code>'
    b'<soap:Value>soap:Receiver</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">'
    b"Server was unable to process request. ---&gt; Login failed for user 'PARENTPAY_OAKFIELD' "
    b"with password 's3cret'pw&amp;&lt;x&gt;'</soap:Text></soap:Reason><soap:Detail />"
    b"</soap:Fault></soap:Body></soap:Envelope>"
)


# -- scrubbing ------------------------------------------------------------------------------


def test_scrub_replaces_secrets_in_any_case_and_keeps_the_rest_byte_for_byte() -> None:
    scrubbed = scrub(ECHO_FAULT, [USER, SECRET])

    expected = ECHO_FAULT.replace(b"PARENTPAY_OAKFIELD", b"&lt;scrubbed&gt;").replace(
        b"s3cret'pw&amp;&lt;x&gt;", b"&lt;scrubbed&gt;"
    )
    assert scrubbed == expected
    # Still well-formed, and reads as the plain marker.
    text = etree.fromstring(scrubbed).findtext(".//{http://www.w3.org/2003/05/soap-envelope}Text")
    assert text is not None and text.endswith("user '<scrubbed>' with password '<scrubbed>'")


@pytest.mark.parametrize(
    "written",
    [
        "s3cret'pw&<x>",  # raw (an HTML error page, a CDATA section)
        "s3cret&apos;pw&amp;&lt;x&gt;",  # XML-escaped with named quote entities
        "s3cret&#39;pw&amp;&lt;x&gt;",  # .NET HtmlEncode style
        "s3cret'pw&amp;amp;&amp;lt;x&amp;gt;",  # escaped twice, inside an ...AsXml string
    ],
)
def test_scrub_finds_the_password_however_it_was_escaped(written: str) -> None:
    body = f"<r>before {written} after</r>".encode()

    scrubbed = scrub(body, [SECRET])

    assert b"s3cret" not in scrubbed
    assert scrubbed.startswith(b"<r>before ") and scrubbed.endswith(b" after</r>")


def test_scrub_writes_the_marker_plainly_in_plain_text_and_twice_escaped_where_needed() -> None:
    assert scrub(b"denied for parentpay_oakfield", [USER], markup=False) == b"denied for <scrubbed>"
    assert scrub(b"<r>x&amp;amp;y</r>", ["x&y"]) == b"<r>&amp;lt;scrubbed&amp;gt;</r>"


def test_scrub_takes_the_longest_secret_first_and_ignores_empty_ones() -> None:
    body = b"<r>parentpay_oakfield-2024</r>"
    assert (
        scrub(body, ["parentpay_oakfield", "parentpay_oakfield-2024"]) == b"<r>&lt;scrubbed&gt;</r>"
    )
    assert scrub(body, ["", ""]) == body


def test_scrub_text_for_the_manifest() -> None:
    assert scrub_text("https://Parentpay_Oakfield:pw@host/x", [USER, "pw"]) == (
        "https://<scrubbed>:<scrubbed>@host/x"
    )


# -- the recorder ---------------------------------------------------------------------------


def record(
    recorder: Recorder,
    operation: str,
    entity: str | None = None,
    where: str | None = None,
    status: int = 200,
    content_type: str = "application/soap+xml; charset=utf-8",
    body: bytes = b"<ok/>",
) -> Path:
    return recorder.record(
        operation=operation,
        entity=entity,
        entity_filter=where,
        soap_version="1.2",
        status=status,
        content_type=content_type,
        body=body,
    )


def manifest(folder: Path) -> dict[str, object]:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_recorder_names_files_by_operation_entity_and_filter(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "20001", [USER], about={"org_id": 20001, "school": "Oakfield"})

    record(recorder, "findEntitiesBySchoolID")
    record(recorder, "getEntityDataBySchoolID", "Students")
    filtered = record(recorder, "getEntityDataBySchoolID", "Students", "FirstName LIKE 'S%'")
    record(recorder, "getEntityDataBySchoolID", "Staff", status=500, body=b"<fault/>")

    data = manifest(tmp_path / "20001")
    assert data["format"] == FORMAT and data["org_id"] == 20001 and data["school"] == "Oakfield"
    calls = data["calls"]
    assert isinstance(calls, list)
    assert [c["file"] for c in calls] == [
        "findEntitiesBySchoolID.xml",
        "getEntityDataBySchoolID/Students.xml",
        f"getEntityDataBySchoolID/{filtered.name}",
        "getEntityDataBySchoolID/Staff.xml",
    ]
    assert filtered.name.startswith("Students~") and filtered.suffix == ".xml"
    assert calls[2]["entityFilter"] == "FirstName LIKE 'S%'"
    assert calls[3] | {"when": None} == {
        "operation": "getEntityDataBySchoolID",
        "entityName": "Staff",
        "entityFilter": None,
        "soap_version": "1.2",
        "status": 500,
        "content_type": "application/soap+xml; charset=utf-8",
        "file": "getEntityDataBySchoolID/Staff.xml",
        "when": None,
    }
    assert str(calls[3]["when"]).endswith("Z")
    assert (
        tmp_path / "20001" / "getEntityDataBySchoolID" / "Staff.xml"
    ).read_bytes() == b"<fault/>"
    # Atomic writes leave no temporary files behind.
    assert not [p for p in (tmp_path / "20001").rglob(".*")]


def test_a_repeated_call_keeps_its_last_answer_and_drops_the_old_file(tmp_path: Path) -> None:
    folder = tmp_path / "20001"
    recorder = Recorder(folder, [USER])

    record(
        recorder,
        "findEntitiesBySchoolID",
        status=503,
        content_type="text/html",
        body=b"<html>busy</html>",
    )
    record(recorder, "findEntitiesBySchoolID", body=b"<entities/>")

    [call] = manifest(folder)["calls"]  # type: ignore[misc]
    assert (call["status"], call["file"]) == (200, "findEntitiesBySchoolID.xml")
    assert not (folder / "findEntitiesBySchoolID.html").exists()


def test_recording_again_into_a_folder_replaces_repeated_calls_and_keeps_others(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "20001"
    first = Recorder(folder, [USER])
    record(first, "getEntityDataBySchoolID", "Students", body=b"<old/>")
    record(first, "getEntityDataBySchoolID", "Staff", body=b"<staff/>")

    second = Recorder(folder, [USER])
    record(second, "getEntityDataBySchoolID", "STUDENTS", body=b"<new/>")  # same call, any case

    calls = manifest(folder)["calls"]
    assert [c["entityName"] for c in calls] == ["STUDENTS", "Staff"]  # type: ignore[union-attr]
    assert (folder / "getEntityDataBySchoolID" / "STUDENTS.xml").read_bytes() == b"<new/>"


def test_a_folder_that_is_not_a_recording_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "20001"
    folder.mkdir()
    (folder / MANIFEST).write_text('{"something": "else"}', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        Recorder(folder, [USER])

    assert str(caught.value).startswith(f"{folder / MANIFEST} is not a bromsync recording")
    assert "give --record an empty folder" in str(caught.value)


def test_recorder_scrubs_bodies_and_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "20001"
    recorder = Recorder(folder, [USER, SECRET], about={"url": f"https://{USER}@mis.example/x"})

    path = record(
        recorder,
        "getEntityDataBySchoolID",
        "Students",
        f"LastName = '{USER}'",
        status=500,
        body=ECHO_FAULT,
    )

    written = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert b"oakfield" not in written.lower() and b"s3cret" not in written
    assert b"&lt;scrubbed&gt;" in path.read_bytes()
    assert manifest(folder)["url"] == "https://<scrubbed>@mis.example/x"


# -- the source's hook -----------------------------------------------------------------------


@pytest.fixture
def server() -> SoapServer:  # type: ignore[misc]
    with SoapServer(WSDL.read_bytes()) as srv:
        yield srv


@pytest.fixture
def recording_source(
    server: SoapServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> BromcomSource:
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    return BromcomSource.for_school(
        make_school(server.url), record_dir=tmp_path / "rec", base_delay=0.0, sleep=lambda _: None
    )


def test_source_records_each_answer_exactly_as_received(
    server: SoapServer, recording_source: BromcomSource, tmp_path: Path
) -> None:
    server.on("findEntitiesBySchoolID", gateway_error(503), fixture("entities.xml"))
    server.on("getEntityDataBySchoolID", fixture("students.xml"))

    recording_source.fetch("Students")

    folder = tmp_path / "rec" / "20001"
    calls = manifest(folder)["calls"]
    assert [(c["operation"], c["entityName"], c["status"], c["file"]) for c in calls] == [  # type: ignore[union-attr]
        ("findEntitiesBySchoolID", None, 200, "findEntitiesBySchoolID.xml"),
        ("getEntityDataBySchoolID", "Students", 200, "getEntityDataBySchoolID/Students.xml"),
    ]
    assert calls[1]["content_type"] == "application/soap+xml; charset=utf-8"  # type: ignore[index]
    assert (folder / "getEntityDataBySchoolID" / "Students.xml").read_bytes() == fixture(
        "students.xml"
    ).body
    assert (folder / "findEntitiesBySchoolID.xml").read_bytes() == fixture("entities.xml").body


def test_source_records_a_fault_with_the_credentials_scrubbed(
    server: SoapServer, recording_source: BromcomSource, tmp_path: Path
) -> None:
    server.on(
        "findEntitiesBySchoolID", Reply(500, ECHO_FAULT, "application/soap+xml; charset=utf-8")
    )

    with pytest.raises(BromcomFault) as caught:
        recording_source.entities()

    assert "Login failed for user 'PARENTPAY_OAKFIELD'" in str(
        caught.value
    )  # the live error is whole
    folder = tmp_path / "rec" / "20001"
    [call] = manifest(folder)["calls"]  # type: ignore[misc]
    assert call["status"] == 500
    recorded = (folder / call["file"]).read_bytes()
    assert b"oakfield" not in recorded.lower() and b"s3cret" not in recorded
    assert recorded == scrub(ECHO_FAULT, [USER, SECRET])


def test_source_records_a_credentials_fault_and_still_raises_it(
    server: SoapServer, recording_source: BromcomSource, tmp_path: Path
) -> None:
    server.on("findEntitiesBySchoolID", fixture("fault_credentials.xml", status=500))

    with pytest.raises(BromcomCredentialsError):
        recording_source.entities()

    recorded = tmp_path / "rec" / "20001" / "findEntitiesBySchoolID.xml"
    assert recorded.read_bytes() == fixture("fault_credentials.xml").body
