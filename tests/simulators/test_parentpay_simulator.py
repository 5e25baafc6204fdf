"""The ParentPay simulator against docs/parentpay-api.md, spoken to with raw `requests` (no engine code)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from simulators.parentpay import ParentPaySimulator
from simulators.parentpay.__main__ import main as simulator_main

TOKEN = "test-token"
SITE = 5001
TIMEOUT = 5

PUPIL: dict[str, Any] = {
    "upn": "A123456789012", "admission_number": "001", "forename": "Amy", "surname": "Smyth",
    "legal_forename": "Amelia", "legal_surname": "Smyth", "dob": "2016-02-29", "gender": "F",
    "year_code": "3", "reg_group": "3B", "fsm": False, "fsm_start": None, "fsm_end": None,
    "payer_email": "parent@example.org", "payer_mobile": "+44 7700 900123",
    "dietary": ["Gluten free", "Nut allergy"],
}  # fmt: skip
PREADMISSION = {k: v for k, v in PUPIL.items() if k != "reg_group"} | {
    "year_code": "R", "admission_date": "2025-09-03",
}  # fmt: skip
STAFF = {"title": "Ms", "forename": "Jo", "surname": "Bloggs", "email": "jo@school.example",
         "mobile": "07700900456"}  # fmt: skip

SEED = [
    {"mis_id": "P1", "type": "pupil", "status": "active", "fields": PUPIL},
    {"mis_id": "P2", "type": "pupil", "status": "archived", "fields": PUPIL},
    {"mis_id": "A1", "type": "preadmission", "status": "active", "fields": PREADMISSION},
    {"mis_id": "A2", "type": "preadmission", "status": "archived", "fields": PREADMISSION},
    {"mis_id": "S1", "type": "staff", "status": "active", "fields": STAFF},
]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ParentPaySimulator]:
    with ParentPaySimulator(tmp_path / "pp", TOKEN, sites=[SITE, 5002]) as simulator:
        simulator.seed(SITE, SEED)
        yield simulator


def auth(**extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **extra}


def post(sim: ParentPaySimulator, ops: Any, key: str | None = "k1", site: int = SITE,
         **kw: Any) -> requests.Response:  # fmt: skip
    headers = auth(**({"Idempotency-Key": key} if key is not None else {}))
    if "data" not in kw:
        kw.setdefault("json", {"operations": ops})
    return requests.post(
        f"{sim.url}/v1/sites/{site}/uploads", headers=headers, timeout=TIMEOUT, **kw
    )


def get(sim: ParentPaySimulator, query: str = "", site: int = SITE) -> requests.Response:
    return requests.get(f"{sim.url}/v1/sites/{site}/people{query}", headers=auth(), timeout=TIMEOUT)


def ids(people: list[dict[str, Any]]) -> list[str]:
    return [p["mis_id"] for p in people]


# -- auth, routing, request shape -----------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}]
)
def test_wrong_or_missing_token_is_401(sim: ParentPaySimulator, headers: dict[str, str]) -> None:
    r = requests.get(f"{sim.url}/v1/sites/{SITE}/people", headers=headers, timeout=TIMEOUT)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"


def test_unknown_site_unknown_path_and_wrong_method(sim: ParentPaySimulator) -> None:
    r = get(sim, site=9999)
    assert (r.status_code, r.json()["error"]) == (404, "unknown_site")
    assert "9999" in r.json()["message"]
    assert post(sim, [], site=9999).status_code == 404
    r = requests.get(f"{sim.url}/v1/people", headers=auth(), timeout=TIMEOUT)
    assert r.status_code == 404
    r = requests.get(f"{sim.url}/v1/sites/{SITE}/uploads", headers=auth(), timeout=TIMEOUT)
    assert (r.status_code, r.headers["Allow"]) == (405, "POST")


def test_with_any_site_every_site_id_is_served_and_added_on_first_use(tmp_path: Path) -> None:
    with ParentPaySimulator(tmp_path / "pp", TOKEN, any_site=True) as open_sim:
        assert open_sim.sites == []
        assert get(open_sim, site=7001).json() == {"people": []}
        create = [{"op": "create", "type": "staff", "mis_id": "S9", "fields": STAFF}]
        assert post(open_sim, create, site=7002).json()["results"][0]["status"] == "applied"
        assert open_sim.sites == [7001, 7002]
        assert get(open_sim, site=0).status_code == 404  # a site id is a positive number
    with ParentPaySimulator(tmp_path / "pp", TOKEN) as strict:  # kept, and others unknown
        assert strict.sites == [7001, 7002] and get(strict, site=7003).status_code == 404


def _serve(tmp_path: Path, *sites: str) -> Iterator[str]:
    """`python -m simulators.parentpay` in a child, as a newcomer starts it: its URL."""
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from simulators.parentpay.__main__ import main; sys.exit(main(sys.argv[1:]))"
    )
    root = Path(__file__).parents[2]
    args = ["--data", str(tmp_path / "served"), "--port", "0", "--token", TOKEN, *sites]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=root, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    try:
        lines = [proc.stdout.readline() for _ in range(4)]  # type: ignore[union-attr]
        yield lines[0].rsplit(" ", 1)[1].strip()
        assert "sites:" in lines[3]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_started_without_site_it_serves_any_site_and_with_site_only_those(
    tmp_path: Path,
) -> None:
    for url in _serve(tmp_path):
        r = requests.get(f"{url}/v1/sites/4242/people", headers=auth(), timeout=TIMEOUT)
        assert r.json() == {"people": []}
    for url in _serve(tmp_path, "--site", "5001"):
        r = requests.get(f"{url}/v1/sites/4343/people", headers=auth(), timeout=TIMEOUT)
        assert (r.status_code, r.json()["error"]) == (404, "unknown_site")
        r = requests.get(f"{url}/v1/sites/4242/people", headers=auth(), timeout=TIMEOUT)
        assert r.status_code == 200  # stored by the first start


def test_upload_without_idempotency_key_is_400(sim: ParentPaySimulator) -> None:
    r = post(sim, [], key=None)
    assert r.status_code == 400
    assert "Idempotency-Key" in r.json()["message"]


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"data": b"{not json"}, "not JSON"),
        ({"json": [1, 2]}, '{"operations": [...]}'),
        ({"json": {"ops": []}}, '{"operations": [...]}'),
        ({"json": {"operations": [], "extra": 1}}, '{"operations": [...]}'),
        ({"json": {"operations": [{"op": "archive"}, "x"]}}, "operations[1]"),
    ],
)
def test_malformed_body_is_400_with_a_message(
    sim: ParentPaySimulator, kw: dict[str, Any], fragment: str
) -> None:
    r = post(sim, None, **kw)
    assert r.status_code == 400
    assert fragment in r.json()["message"]
    assert len(sim.people(SITE)) == len(SEED)


def test_500_operations_pass_and_501_are_413(sim: ParentPaySimulator) -> None:
    ops = [
        {"op": "create", "type": "staff", "mis_id": f"T{i}", "fields": STAFF} for i in range(501)
    ]
    r = post(sim, ops, key="big")
    assert r.status_code == 413
    assert "500" in r.json()["message"]
    assert len(sim.people(SITE, type="staff")) == 1
    r = post(sim, ops[:500], key="big")
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * 500
    assert len(sim.people(SITE, type="staff")) == 501


# -- operations and rejection codes ---------------------------------------------------------

CASES = [
    # (op, expected code or None when applied, fragment of the message)
    ({"op": "create", "type": "pupil", "mis_id": "P9", "fields": PUPIL}, None, None),
    ({"op": "create", "type": "staff", "mis_id": "S9", "fields": STAFF}, None, None),
    ({"op": "create", "type": "preadmission", "mis_id": "A9", "fields": PREADMISSION}, None, None),
    ({"op": "create", "type": "staff", "mis_id": "P1", "fields": STAFF}, "exists", "P1"),
    ({"op": "create", "type": "pupil", "mis_id": "P2", "fields": PUPIL}, "exists", "archived"),
    ({"op": "create", "type": "staff", "mis_id": "S9", "fields": {"title": None}}, "invalid",
     "forename, surname, email, mobile: missing"),
    ({"op": "create", "type": "preadmission", "mis_id": "A9",
      "fields": PREADMISSION | {"reg_group": "R1"}}, "invalid", "reg_group: not a preadmission"),
    ({"op": "update", "type": "pupil", "mis_id": "P1", "fields": {"surname": "Smith"}}, None, None),
    ({"op": "update", "type": "pupil", "mis_id": "P9", "fields": {"surname": "X"}},
     "not_found", "P9"),
    ({"op": "update", "type": "pupil", "mis_id": "P2", "fields": {"surname": "X"}},
     "conflict", "archived"),
    ({"op": "update", "type": "staff", "mis_id": "P1", "fields": {"surname": "X"}},
     "conflict", "not a staff"),
    ({"op": "update", "type": "pupil", "mis_id": "P1", "fields": {}}, "invalid", "fields"),
    ({"op": "update", "type": "pupil", "mis_id": "P1", "fields": {"email": "a@b.co"}},
     "invalid", "email: not a pupil field"),
    ({"op": "archive", "type": "pupil", "mis_id": "P1"}, None, None),
    ({"op": "archive", "type": "pupil", "mis_id": "P2"}, "conflict", "already archived"),
    ({"op": "archive", "type": "staff", "mis_id": "X1"}, "not_found", "X1"),
    ({"op": "archive", "type": "pupil", "mis_id": "P1", "fields": {"surname": "X"}},
     "invalid", "fields"),
    ({"op": "restore", "type": "pupil", "mis_id": "P2", "fields": {}}, None, None),
    ({"op": "restore", "type": "pupil", "mis_id": "P1"}, "conflict", "already active"),
    ({"op": "restore", "type": "pupil", "mis_id": "X1"}, "not_found", "X1"),
    ({"op": "convert", "type": "pupil", "mis_id": "A1", "fields": PUPIL}, None, None),
    ({"op": "convert", "type": "pupil", "mis_id": "P1", "fields": PUPIL}, "conflict",
     "only an active preadmission"),
    ({"op": "convert", "type": "pupil", "mis_id": "A2", "fields": PUPIL}, "conflict",
     "archived preadmission"),
    ({"op": "convert", "type": "pupil", "mis_id": "X1", "fields": PUPIL}, "not_found", "X1"),
    ({"op": "convert", "type": "pupil", "mis_id": "A1", "fields": PREADMISSION}, "invalid",
     "reg_group: missing"),
    ({"op": "convert", "type": "preadmission", "mis_id": "A1", "fields": PUPIL}, "invalid",
     "type"),
    ({"op": "rekey", "type": "pupil", "mis_id": "P1", "fields": {"new_mis_id": "P7"}}, None, None),
    ({"op": "rekey", "type": "pupil", "mis_id": "P1", "fields": {"new_mis_id": "S1"}},
     "exists", "S1"),
    ({"op": "rekey", "type": "pupil", "mis_id": "X1", "fields": {"new_mis_id": "X2"}},
     "not_found", "X1"),
    ({"op": "rekey", "type": "pupil", "mis_id": "P1", "fields": {"new_mis_id": " "}},
     "invalid", "new_mis_id"),
    ({"op": "delete", "type": "pupil", "mis_id": "P1"}, "invalid", "op:"),
    ({"op": "archive", "type": "parent", "mis_id": "P1"}, "invalid", "type:"),
    ({"op": "archive", "type": "pupil", "mis_id": 5}, "invalid", "mis_id:"),
    ({"op": "archive", "type": "pupil", "mis_id": "P1", "why": "left"}, "invalid", "why"),
]  # fmt: skip


@pytest.mark.parametrize(("op", "code", "fragment"), CASES)
def test_each_operation_and_rejection_code(
    sim: ParentPaySimulator, op: dict[str, Any], code: str | None, fragment: str | None
) -> None:
    before = sim.people(SITE)
    r = post(sim, [op])
    assert r.status_code == 200
    [result] = r.json()["results"]
    assert result["index"] == 0
    assert result["mis_id"] == (op["mis_id"] if isinstance(op["mis_id"], str) else "")
    assert (result["status"], result["code"]) == (
        ("applied", None) if code is None else ("rejected", code)
    )
    if code is None:
        assert result["message"] is None
        assert sim.people(SITE) != before
    else:
        assert fragment in result["message"]
        assert sim.people(SITE) == before


def _person(sim: ParentPaySimulator, mis_id: str) -> dict[str, Any] | None:
    return next((p for p in sim.people(SITE) if p["mis_id"] == mis_id), None)


def test_applied_operations_change_the_record_as_the_contract_says(
    sim: ParentPaySimulator,
) -> None:
    account_a1, account_p1 = sim.account_id(SITE, "A1"), sim.account_id(SITE, "P1")
    ops = [
        {"op": "update", "type": "pupil", "mis_id": "P1", "fields": {"surname": "Smith"}},
        {"op": "archive", "type": "staff", "mis_id": "S1", "fields": {}},
        {"op": "restore", "type": "pupil", "mis_id": "P2"},
        {"op": "convert", "type": "pupil", "mis_id": "A1", "fields": PUPIL | {"reg_group": "RA"}},
        {"op": "rekey", "type": "pupil", "mis_id": "P1", "fields": {"new_mis_id": "P100"}},
    ]
    results = post(sim, ops).json()["results"]
    assert [(x["index"], x["status"]) for x in results] == [(i, "applied") for i in range(5)]
    p100 = _person(sim, "P100")
    assert p100 is not None and p100["fields"] == PUPIL | {"surname": "Smith"}
    assert _person(sim, "P1") is None and sim.account_id(SITE, "P100") == account_p1
    assert _person(sim, "S1")["status"] == "archived"  # type: ignore[index]
    assert _person(sim, "P2")["status"] == "active"  # type: ignore[index]
    converted = _person(sim, "A1")
    assert converted == {"mis_id": "A1", "type": "pupil", "status": "active",
                         "fields": PUPIL | {"reg_group": "RA"}}  # fmt: skip
    assert sim.account_id(SITE, "A1") == account_a1  # the payer keeps the account


def test_operations_are_applied_in_order_each_on_its_own(sim: ParentPaySimulator) -> None:
    ops = [
        {"op": "create", "type": "staff", "mis_id": "S2", "fields": STAFF},
        {"op": "create", "type": "staff", "mis_id": "S2", "fields": STAFF},  # now exists
        {"op": "update", "type": "staff", "mis_id": "S2", "fields": {"mobile": "123"}},
        {"op": "archive", "type": "staff", "mis_id": "S2"},
        {"op": "update", "type": "staff", "mis_id": "S2", "fields": {"mobile": "456"}},
    ]
    results = post(sim, ops).json()["results"]
    assert [x["code"] for x in results] == [None, "exists", None, None, "conflict"]
    assert _person(sim, "S2") == {"mis_id": "S2", "type": "staff", "status": "archived",
                                  "fields": STAFF | {"mobile": "123"}}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dob", "2015-02-29"), ("dob", "29/02/2016"), ("fsm_start", 20240101),
        ("gender", "m"), ("fsm", None), ("fsm", "true"), ("year_code", "Y1"),
        ("year_code", "15"), ("dietary", ["Nut allergy", "Gluten free"]),
        ("dietary", ["Nut", "Nut"]), ("dietary", "Nut"), ("payer_email", "n/a"),
        ("payer_mobile", "+44 7700 900 123 45678"), ("payer_mobile", "07700-900123"),
        ("forename", 5), ("upn", ["A1"]),
    ],
)  # fmt: skip
def test_invalid_field_is_rejected_and_the_message_names_it(
    sim: ParentPaySimulator, field: str, value: Any
) -> None:
    ops = [
        {"op": "create", "type": "pupil", "mis_id": "P9", "fields": PUPIL | {field: value}},
        {"op": "update", "type": "pupil", "mis_id": "P1", "fields": {field: value}},
    ]
    for result in post(sim, ops).json()["results"]:
        assert (result["status"], result["code"]) == ("rejected", "invalid")
        assert result["message"].startswith(f"{field}:")
    assert _person(sim, "P9") is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("dob", "2016-02-29"), ("year_code", "N1"), ("year_code", "14"), ("gender", "X"),
     ("payer_mobile", "+447700900123456"), ("payer_mobile", None), ("dietary", []),
     ("dietary", None), ("fsm", True), ("payer_email", None)],
)  # fmt: skip
def test_valid_edge_values_are_applied(sim: ParentPaySimulator, field: str, value: Any) -> None:
    op = {"op": "update", "type": "pupil", "mis_id": "P1", "fields": {field: value}}
    assert post(sim, [op]).json()["results"][0]["status"] == "applied"
    assert _person(sim, "P1")["fields"][field] == value  # type: ignore[index]


# -- idempotency and persistence -------------------------------------------------------------


def test_same_idempotency_key_returns_the_first_answer_and_applies_nothing(
    sim: ParentPaySimulator,
) -> None:
    create = [{"op": "create", "type": "staff", "mis_id": "S2", "fields": STAFF}]
    first = post(sim, create, key="upload-1")
    after_first = sim.people(SITE)
    again = post(sim, create, key="upload-1")
    assert again.status_code == 200 and again.content == first.content
    assert again.json()["results"][0]["status"] == "applied"  # not "exists": it is a replay
    # A different body under a used key is still the first upload's replay.
    other = [{"op": "archive", "type": "pupil", "mis_id": "P1"}]
    assert post(sim, other, key="upload-1").content == first.content
    assert sim.people(SITE) == after_first
    # Keys are per site: the same key on another site is a new upload.
    assert post(sim, [], key="upload-1", site=5002).json()["upload_id"] != first.json()["upload_id"]


def test_the_operations_log_counts_what_was_applied_not_replays_or_5xx(
    sim: ParentPaySimulator,
) -> None:
    create = {"op": "create", "type": "staff", "mis_id": "S2", "fields": STAFF}
    archive = {"op": "archive", "type": "pupil", "mis_id": "P1"}
    sim.inject(503, method="POST")
    assert post(sim, [create], key="u1").status_code == 503
    upload_id = post(sim, [create, archive], key="u1").json()["upload_id"]
    post(sim, [create, archive], key="u1")  # a replay
    post(sim, [create], key="u2")  # the same create again, under a new key: `exists`
    rows = sim.operations(SITE)
    assert rows[:2] == [
        {"upload_id": upload_id, "index": 0, "op": "create", "type": "staff", "mis_id": "S2"}
        | {"status": "applied", "code": None},
        {"upload_id": upload_id, "index": 1, "op": "archive", "type": "pupil", "mis_id": "P1"}
        | {"status": "applied", "code": None},
    ]
    assert [(r["op"], r["status"], r["code"]) for r in rows[2:]] == [
        ("create", "rejected", "exists")
    ]
    assert sim.operations(5002) == []


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "pp"
    create = [{"op": "create", "type": "staff", "mis_id": "S2", "fields": STAFF}]
    with ParentPaySimulator(data, TOKEN, sites=[SITE]) as first:
        answer = post(first, create, key="k-restart").content
        people = first.people(SITE)
    # No token or sites given: both come from the data folder.
    with ParentPaySimulator(data) as second:
        assert second.token == TOKEN and second.sites == [SITE]
        assert get(second, "?status=all").json()["people"] == people
        assert post(second, create, key="k-restart").content == answer
        assert second.people(SITE) == people


# -- overload and faults ---------------------------------------------------------------------


def test_injected_429_has_retry_after_and_touches_nothing(sim: ParentPaySimulator) -> None:
    sim.inject(429, times=2, retry_after=3)
    create = [{"op": "create", "type": "staff", "mis_id": "S2", "fields": STAFF}]
    for _ in range(2):
        r = post(sim, create)
        assert (r.status_code, r.headers["Retry-After"]) == (429, "3")
    assert _person(sim, "S2") is None
    assert post(sim, create).json()["results"][0]["status"] == "applied"
    assert [(x.status, x.fault) for x in sim.requests] == [(429, "429"), (429, "429"), (200, None)]


@pytest.mark.parametrize("status", [500, 503])
def test_injected_5xx_applies_nothing_and_a_retry_applies_once(
    sim: ParentPaySimulator, status: int
) -> None:
    sim.inject(status, method="POST")
    before = sim.people(SITE)
    ops = [{"op": "archive", "type": "pupil", "mis_id": "P1"},
           {"op": "create", "type": "staff", "mis_id": "S2", "fields": STAFF}]  # fmt: skip
    assert get(sim).status_code == 200  # a GET does not take a POST-only fault
    r = post(sim, ops, key="retry-me")
    assert r.status_code == status and "nothing was applied" in r.json()["message"]
    assert sim.people(SITE) == before
    r = post(sim, ops, key="retry-me")  # the key was not used up by the failed attempt
    assert [x["status"] for x in r.json()["results"]] == ["applied", "applied"]


def test_dropped_connection_after_commit_then_retry_gets_the_stored_answer(
    sim: ParentPaySimulator,
) -> None:
    sim.inject("drop")
    ops = [{"op": "create", "type": "staff", "mis_id": "S2", "fields": STAFF}]
    with pytest.raises(requests.ConnectionError):
        post(sim, ops, key="lost-answer")
    assert _person(sim, "S2") is not None  # committed before the connection was cut
    r = post(sim, ops, key="lost-answer")
    assert r.json()["results"][0]["status"] == "applied"
    log = [(x.method, x.path, x.idempotency_key, x.op_count, x.status) for x in sim.requests]
    assert log == [
        ("POST", f"/v1/sites/{SITE}/uploads", "lost-answer", 1, None),
        ("POST", f"/v1/sites/{SITE}/uploads", "lost-answer", 1, 200),
    ]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Wait for `condition`, failing the test after `timeout` seconds (never just carrying on)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting {timeout} s for {what}"
        time.sleep(0.005)


def test_more_concurrent_requests_than_allowed_get_429(tmp_path: Path) -> None:
    with ParentPaySimulator(tmp_path / "pp", TOKEN, [SITE], max_concurrent=1) as sim:
        # Held until released below, however slowly this machine gets to the second request.
        sim.inject("delay", seconds=60)
        slow: list[int] = []
        worker = threading.Thread(target=lambda: slow.append(get(sim).status_code))
        worker.start()
        try:
            wait_until(lambda: sim.held_requests == 1, "the slow request to hold the only slot")
            r = get(sim)
            assert (r.status_code, r.headers["Retry-After"]) == (429, "1")
        finally:
            sim.release_delays()
            worker.join(timeout=TIMEOUT)
        assert slow == [200]
        assert [x.status for x in sim.requests] == [429, 200]


# -- GET filters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["A1", "P1", "S1"]),
        ("?status=active", ["A1", "P1", "S1"]),
        ("?status=archived", ["A2", "P2"]),
        ("?status=all", ["A1", "A2", "P1", "P2", "S1"]),
        ("?type=pupil", ["P1"]),
        ("?type=pupil&status=all", ["P1", "P2"]),
        ("?type=staff&status=archived", []),
    ],
)
def test_people_filters_and_order(sim: ParentPaySimulator, query: str, expected: list[str]) -> None:
    r = get(sim, query)
    assert r.status_code == 200
    assert ids(r.json()["people"]) == expected


def test_people_shape_matches_the_contract(sim: ParentPaySimulator) -> None:
    [staff] = get(sim, "?type=staff").json()["people"]
    assert staff == {"mis_id": "S1", "type": "staff", "status": "active", "fields": STAFF}


@pytest.mark.parametrize("query", ["?type=parent", "?status=gone", "?type=", "?colour=red",
                                   "?type=pupil&type=staff"])  # fmt: skip
def test_people_bad_query_is_400(sim: ParentPaySimulator, query: str) -> None:
    assert get(sim, query).status_code == 400


def test_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only listens on loopback"):
        ParentPaySimulator(tmp_path, TOKEN, host="0.0.0.0")
    with pytest.raises(SystemExit) as exit_info:
        simulator_main(["--data", str(tmp_path), "--host", "192.0.2.1"])
    assert exit_info.value.code == 2
