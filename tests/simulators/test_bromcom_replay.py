"""Replaying a recorded run: the fixture school recorded live, then planned again from the recording.

The round trip uses the engine's recorder (engine/sources/recording.py) and the pipeline; the
replay server's own behaviour is checked against recordings written by hand here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from engine.commands.plan import plan_school
from engine.commands.result import SchoolResult
from engine.config.school import SchoolConfig, load_school
from engine.errors import BromcomCredentialsError, BromcomServerError
from engine.pipeline import Options
from simulators.bromcom import Fault, ReplayError, ReplaySimulator
from tests.conftest import FIXTURE_PASSWORD, Stack

USER = "parentpay_oakfield"
SOAP12 = "{http://www.w3.org/2003/05/soap-envelope}"


def plan_against(
    school: SchoolConfig, url: str, root: Path, name: str, record: Path | None = None
) -> SchoolResult:
    school = dataclasses.replace(school, bromcom=dataclasses.replace(school.bromcom, url=url))
    options = Options(
        state_dir=root / f"state-{name}", out_dir=root / f"plans-{name}", record_dir=record
    )
    return plan_school(school, options)


def stable(result: SchoolResult) -> dict[str, Any]:
    assert result.plan is not None, result.message
    return {k: v for k, v in result.plan.data.items() if k not in ("run_id", "digest")}


def recorded_bytes(folder: Path) -> bytes:
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    assert files, f"nothing was recorded in {folder}"
    return b"".join(p.read_bytes() for p in files)


# -- the round trip ----------------------------------------------------------------------------


def test_a_recorded_run_replays_to_the_same_plan(stack: Stack) -> None:
    school = load_school(stack.school_file)
    record = stack.root / "recording"

    live = plan_against(school, stack.bromcom.url, stack.root, "live", record)

    folder = record / "20001"
    calls = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["calls"]
    fetched = [c["entityName"] for c in calls if c["operation"] == "getEntityDataBySchoolID"]
    live_fetched = [
        r.entity_name for r in stack.bromcom.requests if r.operation == "getEntityDataBySchoolID"
    ]
    assert sorted(fetched) == sorted(live_fetched) and len(fetched) >= 5
    assert all(c["status"] == 200 and c["soap_version"] == "1.2" for c in calls)
    everything = recorded_bytes(record)
    assert FIXTURE_PASSWORD.encode() not in everything and USER.encode() not in everything.lower()

    with ReplaySimulator(record) as replay:
        again = plan_against(school, replay.url, stack.root, "replay")
        served = [
            r.entity_name for r in replay.requests if r.operation == "getEntityDataBySchoolID"
        ]

    assert sorted(served) == sorted(fetched)
    assert again.exit_code == live.exit_code
    assert stable(again) == stable(live)
    assert stable(live)["changes"], "the fixture school should plan some changes"


def test_a_wrong_password_is_recorded_and_replayed_as_the_same_fault(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not-the-password-7"
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", wrong)
    school = load_school(stack.school_file)
    record = stack.root / "recording"

    live = plan_against(school, stack.bromcom.url, stack.root, "live", record)
    with ReplaySimulator(record) as replay:
        again = plan_against(school, replay.url, stack.root, "replay")

    assert isinstance(live.error, BromcomCredentialsError)
    assert isinstance(again.error, BromcomCredentialsError)
    assert (again.exit_code, again.message) == (live.exit_code, live.message)
    calls = json.loads((record / "20001" / "manifest.json").read_text(encoding="utf-8"))["calls"]
    assert [(c["operation"], c["status"]) for c in calls] == [("findEntitiesBySchoolID", 500)]
    everything = recorded_bytes(record)
    assert wrong.encode() not in everything and USER.encode() not in everything.lower()


def test_an_error_page_echoing_the_credentials_is_scrubbed_then_replayed(stack: Stack) -> None:
    echo = f"<html><body>Login failed for {USER} using password '{FIXTURE_PASSWORD}'</body></html>"
    # On every attempt: an HTTP 500 page is Bromcom's server failing, which a retry may cure.
    stack.bromcom.inject(Fault.http_status(500, echo, operation="findEntitiesBySchoolID", times=3))
    school = load_school(stack.school_file)
    record = stack.root / "recording"

    live = plan_against(school, stack.bromcom.url, stack.root, "live", record)
    with ReplaySimulator(record) as replay:
        again = plan_against(school, replay.url, stack.root, "replay")
        answer = call(replay.url, "findEntitiesBySchoolID", schoolID="20001")

    assert isinstance(live.error, BromcomServerError)
    assert isinstance(again.error, BromcomServerError)
    assert "HTTP 500" in again.message
    everything = recorded_bytes(record)
    assert FIXTURE_PASSWORD.encode() not in everything and USER.encode() not in everything.lower()
    assert answer.status_code == 500 and answer.headers["Content-Type"] == "text/html"
    assert answer.text == (
        "<html><body>Login failed for &lt;scrubbed&gt; using password '&lt;scrubbed&gt;'</body></html>"
    )


# -- the replay server on hand-written recordings --------------------------------------------------

STUDENTS = b'<?xml version="1.0"?><answer kind="students">\r\n  exact bytes \xc3\xa9</answer>'
ENTITIES = b"<answer kind='entities'/>"


def envelope(operation: str, **params: str) -> bytes:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in params.items())
    return (
        '<?xml version="1.0" encoding="utf-8"?><soap12:Envelope '
        'xmlns:soap12="http://www.w3.org/2003/05/soap-envelope"><soap12:Body>'
        f'<{operation} xmlns="http://tempuri.org/">{inner}</{operation}>'
        "</soap12:Body></soap12:Envelope>"
    ).encode()


def call(url: str, operation: str, version: str = "1.2", **params: str) -> requests.Response:
    if version == "1.1":
        body = envelope(operation, **params).replace(
            b"http://www.w3.org/2003/05/soap-envelope", b"http://schemas.xmlsoap.org/soap/envelope/"
        )
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"http://tempuri.org/{operation}"',
        }
    else:
        body = envelope(operation, **params)
        headers = {"Content-Type": "application/soap+xml; charset=utf-8"}
    return requests.post(url, data=body, headers=headers, timeout=5)


def write_recording(folder: Path, calls: list[dict[str, Any]], files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    manifest = {
        "format": "bromsync-bromcom-recording/1",
        "org_id": int(folder.name),
        "calls": calls,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def a_call(
    operation: str,
    file: str,
    entity: str | None = None,
    where: str | None = None,
    status: int = 200,
    content_type: str = "application/soap+xml; charset=utf-8",
) -> dict[str, Any]:
    return {
        "operation": operation,
        "entityName": entity,
        "entityFilter": where,
        "soap_version": "1.2",
        "status": status,
        "content_type": content_type,
        "file": file,
        "when": "2026-11-28T09:00:00Z",
    }


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    write_recording(
        tmp_path / "rec" / "20001",
        [
            a_call("findEntitiesBySchoolID", "findEntitiesBySchoolID.xml"),
            a_call("getEntityDataBySchoolID", "getEntityDataBySchoolID/Students.xml", "Students"),
            a_call(
                "getEntityDataBySchoolID",
                "getEntityDataBySchoolID/Staff~x.xml",
                "Staff",
                "EndDate IS NULL",
                status=500,
                content_type="text/xml; charset=utf-8",
            ),
        ],
        {
            "findEntitiesBySchoolID.xml": ENTITIES,
            "getEntityDataBySchoolID/Students.xml": STUDENTS,
            "getEntityDataBySchoolID/Staff~x.xml": b"<staff-fault/>",
        },
    )
    return tmp_path / "rec"


@pytest.fixture
def replay(recording: Path) -> Iterator[ReplaySimulator]:
    with ReplaySimulator(recording) as sim:
        yield sim


def test_replay_serves_the_recorded_bytes_status_and_type_for_any_credentials(
    replay: ReplaySimulator,
) -> None:
    students = call(
        replay.url,
        "getEntityDataBySchoolID",
        schoolID="20001",
        entityName="sTuDeNtS",
        entityFilter="",
        username="anyone",
        password="anything",
    )
    staff = call(
        replay.url,
        "getEntityDataBySchoolID",
        "1.1",
        schoolID="20001",
        entityName="Staff",
        entityFilter=" EndDate IS NULL ",
    )
    entities = call(replay.url, "findEntitiesBySchoolID", schoolID="20001")

    assert (students.status_code, students.content) == (200, STUDENTS)
    assert students.headers["Content-Type"] == "application/soap+xml; charset=utf-8"
    assert (staff.status_code, staff.content, staff.headers["Content-Type"]) == (
        500,
        b"<staff-fault/>",
        "text/xml; charset=utf-8",
    )
    assert entities.content == ENTITIES
    assert [(r.operation, r.entity_name, r.status) for r in replay.requests] == [
        ("getEntityDataBySchoolID", "sTuDeNtS", 200),
        ("getEntityDataBySchoolID", "Staff", 500),
        ("findEntitiesBySchoolID", None, 200),
    ]


def fault_reason(response: requests.Response) -> str:
    root = etree.fromstring(response.content)
    return str(root.findtext(f"{SOAP12}Body/{SOAP12}Fault/{SOAP12}Reason/{SOAP12}Text"))


def test_a_call_with_no_recording_is_a_fault_naming_it(
    replay: ReplaySimulator, recording: Path
) -> None:
    other_filter = call(
        replay.url,
        "getEntityDataBySchoolID",
        schoolID="20001",
        entityName="Students",
        entityFilter="UPN IS NULL",
    )
    unknown = call(replay.url, "getEntityDataBySchoolID", schoolID="20001", entityName="People")
    as_xml = call(replay.url, "findEntitiesBySchoolIDAsXml", schoolID="20001")

    assert other_filter.status_code == 500
    assert fault_reason(other_filter) == (
        "Server was unable to process request. ---> Replay: no recording exists for "
        "getEntityDataBySchoolID of entity 'Students' with entityFilter 'UPN IS NULL' in "
        f"{recording / '20001'}; record a run that makes this call (bromsync plan --record DIR)"
    )
    assert "getEntityDataBySchoolID of entity 'People' with entityFilter ''" in fault_reason(
        unknown
    )
    assert "no recording exists for findEntitiesBySchoolIDAsXml in" in fault_reason(as_xml)


def test_the_school_id_picks_the_folder(recording: Path) -> None:
    write_recording(
        recording / "20002", [a_call("findEntitiesBySchoolID", "e.xml")], {"e.xml": b"<second/>"}
    )

    with ReplaySimulator(recording) as sim:
        first = call(sim.url, "findEntitiesBySchoolID", schoolID="20001")
        second = call(sim.url, "findEntitiesBySchoolID", schoolID=" 20002 ")
        unknown = call(sim.url, "findEntitiesBySchoolID", schoolID="99")

    assert (first.content, second.content) == (ENTITIES, b"<second/>")
    assert fault_reason(unknown).endswith(
        f"Replay: no recording exists for school ID 99 in {recording} (it holds 20001, 20002)"
    )


def test_one_school_folder_answers_for_any_school_id(recording: Path) -> None:
    with ReplaySimulator(recording / "20001") as sim:
        answer = call(sim.url, "findEntitiesBySchoolID", schoolID="12345")
        wsdl = requests.get(sim.url + "?WSDL", timeout=5)
        url = sim.url

    assert answer.content == ENTITIES
    assert wsdl.status_code == 200 and f'location="{url}"'.encode() in wsdl.content


def test_injected_faults_work_on_replay_too(replay: ReplaySimulator) -> None:
    replay.inject(Fault.http_status(503, operation="findEntitiesBySchoolID"))

    busy = call(replay.url, "findEntitiesBySchoolID", schoolID="20001")
    then = call(replay.url, "findEntitiesBySchoolID", schoolID="20001")

    assert (busy.status_code, then.status_code, then.content) == (503, 200, ENTITIES)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("not json", "cannot be read as a recording"),
        ('{"format": "other", "calls": []}', "not a bromsync recording"),
        (
            '{"format": "bromsync-bromcom-recording/1", "calls": [{"operation": "x"}]}',
            "call 1: 'file' is missing or of the wrong type",
        ),
        (
            '{"format": "bromsync-bromcom-recording/1", "calls": [{"operation": "x", "file": "../x",'
            ' "status": 200, "content_type": "", "entityName": null, "entityFilter": null}]}',
            "call 1: file '../x' is outside",
        ),
        (
            '{"format": "bromsync-bromcom-recording/1", "calls": [{"operation": "x", "file": "gone.xml",'
            ' "status": 200, "content_type": "", "entityName": null, "entityFilter": null}]}',
            "call 1: file 'gone.xml' is missing",
        ),
    ],
)
def test_a_broken_recording_is_refused_at_start(
    tmp_path: Path, manifest: str, message: str
) -> None:
    folder = tmp_path / "rec" / "20001"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(manifest, encoding="utf-8")

    with pytest.raises(ReplayError) as caught:
        ReplaySimulator(tmp_path / "rec")

    assert str(caught.value).startswith(f"{folder / 'manifest.json'}: ")
    assert message in str(caught.value)


def test_a_folder_without_a_recording_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty" / "notes").mkdir(parents=True)

    with pytest.raises(ReplayError) as caught:
        ReplaySimulator(tmp_path / "empty")

    assert "holds no recording" in str(caught.value)
    with pytest.raises(ReplayError, match="does not exist"):
        ReplaySimulator(tmp_path / "missing")
