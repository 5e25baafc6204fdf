"""Recording Bromcom's answers (`--record DIR`): scrubbing, the folder's layout, the source's hook.

The source is driven against the hand-written scripted server (tests/helpers/soap_server.py), so
what is recorded is checked against bytes this test wrote, not against the simulator's writer.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from lxml import etree

from engine.errors import BromcomCredentialsError, BromcomFault, BromcomServerError, ConfigError
from engine.secrets import scrub_bytes
from engine.sources.bromcom import BromcomSource
from engine.sources.recording import FORMAT, MANIFEST, Recorder
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


# -- scrubbing (the forms themselves: tests/engine/test_secrets.py) ---------------------------


def test_scrub_replaces_secrets_in_any_case_and_keeps_the_rest_byte_for_byte() -> None:
    scrubbed = scrub_bytes(ECHO_FAULT, [USER, SECRET], username=USER, markup=True)

    expected = ECHO_FAULT.replace(b"PARENTPAY_OAKFIELD", b"&lt;scrubbed&gt;").replace(
        b"s3cret'pw&amp;&lt;x&gt;", b"&lt;scrubbed&gt;"
    )
    assert scrubbed == expected
    # Still well-formed, and reads as the plain marker.
    text = etree.fromstring(scrubbed).findtext(".//{http://www.w3.org/2003/05/soap-envelope}Text")
    assert text is not None and text.endswith("user '<scrubbed>' with password '<scrubbed>'")


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

    # The live error keeps the username, which it is about, but never the password.
    assert "Login failed for user 'PARENTPAY_OAKFIELD' with password '<scrubbed>'" in str(
        caught.value
    )
    folder = tmp_path / "rec" / "20001"
    [call] = manifest(folder)["calls"]  # type: ignore[misc]
    assert call["status"] == 500
    recorded = (folder / call["file"]).read_bytes()
    assert b"oakfield" not in recorded.lower() and b"s3cret" not in recorded
    assert recorded == scrub_bytes(ECHO_FAULT, [USER, SECRET], username=USER, markup=True)


def test_source_records_a_credentials_fault_and_still_raises_it(
    server: SoapServer, recording_source: BromcomSource, tmp_path: Path
) -> None:
    server.on("findEntitiesBySchoolID", fixture("fault_credentials.xml", status=500))

    with pytest.raises(BromcomCredentialsError):
        recording_source.entities()

    recorded = tmp_path / "rec" / "20001" / "findEntitiesBySchoolID.xml"
    assert recorded.read_bytes() == fixture("fault_credentials.xml").body


def test_source_records_an_error_page_that_echoes_the_request_with_no_form_of_the_password(
    server: SoapServer, recording_source: BromcomSource, tmp_path: Path
) -> None:
    # A proxy's 500 page that echoes the request: the password URL-encoded in a form body,
    # as HTTP Basic, JSON-escaped in a debug dump and XML-escaped in the SOAP body.
    basic = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
    page = (
        "<html><body><h1>Runtime Error</h1><pre>"
        f"POST body: username={USER}&amp;password={quote_plus(SECRET)}\n"
        f"Authorization: Basic {basic}\n"
        f"debug: {html.escape(json.dumps({'password': SECRET}))}\n"
        f"soap: {html.escape(SECRET)}"
        "</pre></body></html>"
    ).encode()
    server.on("findEntitiesBySchoolID", Reply(500, page, "text/html"))

    with pytest.raises(BromcomServerError):  # Bromcom's server, not a fault or the URL
        recording_source.entities()

    [recorded] = [p for p in (tmp_path / "rec" / "20001").rglob("*.html")]
    written = recorded.read_bytes()
    for form in (quote_plus(SECRET), basic, json.dumps(SECRET)[1:-1], html.escape(SECRET)):
        assert form.encode() not in written, form
    assert b"s3cret" not in written and b"czNjcmV0" not in written  # base64 of "s3cret"
    assert written.count(b"&lt;scrubbed&gt;") == 5  # the username too, as everywhere in recordings
