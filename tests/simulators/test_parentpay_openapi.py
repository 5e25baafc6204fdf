"""schemas/parentpay-people.openapi.json stays true: the simulator's real answers fit it.

Every answer the ParentPay simulator gives (on 127.0.0.1, through the `stack` fixture) must have
a status code the document lists for that operation, and a body that validates against the
document's schema for that response. The records come from a real `bromsync run` of the fixture
school, so what the engine sends is held to the document as well. The schemas forbid unknown
keys where the API fixes the shape, so a field the simulator adds, renames or drops fails here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from bromsync import cli
from tests.conftest import PARENTPAY_TOKEN, SITE_ID, Stack

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "schemas" / "parentpay-people.openapi.json"
DOCUMENT: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
URI = "urn:bromsync:parentpay-people-openapi"
REGISTRY: Registry = Registry().with_resource(URI, DRAFT202012.create_resource(DOCUMENT))
PEOPLE = "/v1/sites/{site_id}/people"
UPLOADS = "/v1/sites/{site_id}/uploads"
TIMEOUT = 10
UNKNOWN_SITE = 9999


# -- reading the document --------------------------------------------------------------------


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _follow(pointer: str) -> tuple[str, Any]:
    """The object at a `#/...` pointer of the document, following OpenAPI `$ref`s to the end."""
    node: Any = DOCUMENT
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    if isinstance(node, dict) and set(node) == {"$ref"}:
        return _follow(node["$ref"])
    return pointer, node


def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer`; its `#/components/...` refs resolve in the document."""
    return Draft202012Validator(
        {"$ref": f"{URI}{pointer}"},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def component(name: str) -> Draft202012Validator:
    return validator(f"#/components/schemas/{name}")


def errors(check: Draft202012Validator, instance: Any) -> list[str]:
    """Every way `instance` breaks the schema, each as `where: what` (shortened)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:200]}"
        for e in check.iter_errors(instance)
    ]


def check_answer(response: requests.Response, path: str, method: str) -> Any:
    """Assert `response` is one the document allows for `method path`; its JSON body."""
    where = f"#/paths/{_escape(path)}/{method}/responses"
    listed = _follow(where)[1]
    status = str(response.status_code)
    key = status if status in listed else f"{status[0]}XX"
    assert key in listed, (
        f"{method.upper()} {path} answered {status}, which the document does not list "
        f"(it lists {', '.join(listed)}): {response.text[:300]}"
    )
    pointer, spec = _follow(f"{where}/{_escape(key)}")
    for name, header in spec.get("headers", {}).items():
        if "$ref" in header:
            header = _follow(header["$ref"])[1]
        if header.get("required"):
            assert name in response.headers, f"{status} lacks the required header {name}"
        if name in response.headers:
            value: Any = response.headers[name]
            if header["schema"].get("type") == "integer":
                assert value.strip().isdigit(), f"{name}: {value!r} is not a whole number"
                value = int(value)
            assert Draft202012Validator(header["schema"]).is_valid(value), f"{name}: {value!r}"
    content = spec.get("content")
    if not content:
        return None
    assert response.headers["Content-Type"].split(";")[0].strip() in content
    body = response.json()
    media = _escape(response.headers["Content-Type"].split(";")[0].strip())
    found = errors(validator(f"{pointer}/content/{media}/schema"), body)
    assert not found, f"{method.upper()} {path} {status} does not fit the document:\n" + "\n".join(
        found
    )
    return body


# -- talking to the simulator ----------------------------------------------------------------


def _url(stack: Stack, path: str, site: int) -> str:
    return str(stack.parentpay.url) + path.replace("{site_id}", str(site))


def get_people(
    stack: Stack,
    params: dict[str, str] | None = None,
    *,
    site: int = SITE_ID,
    token: str = PARENTPAY_TOKEN,
) -> requests.Response:
    return requests.get(
        _url(stack, PEOPLE, site),
        params=params or {},
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )


def post_upload(
    stack: Stack,
    operations: list[dict[str, Any]],
    key: str | None,
    *,
    site: int = SITE_ID,
    token: str = PARENTPAY_TOKEN,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.post(
        _url(stack, UPLOADS, site),
        json={"operations": operations},
        headers=headers,
        timeout=TIMEOUT,
    )


@pytest.fixture
def synced(stack: Stack) -> Iterator[Stack]:
    """The fixture school after one real `bromsync run`: its pupils, staff and pre-admissions
    are in the ParentPay simulator as the engine sent them."""
    result = CliRunner().invoke(cli, ["run", str(stack.school_file)], catch_exceptions=False)
    assert result.exit_code in (0, 3), result.output
    yield stack


def records(stack: Stack, type_: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = stack.parentpay.people(SITE_ID, type=type_, status="active")
    assert len(found) >= 2, f"the fixture school should give at least two {type_} records"
    return found


# -- the document itself -----------------------------------------------------------------------


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_the_document_is_openapi_3_1_with_every_ref_resolving() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    assert DOCUMENT["info"]["title"] and DOCUMENT["info"]["version"]
    assert set(DOCUMENT["paths"]) == {PEOPLE, UPLOADS}
    assert set(DOCUMENT["paths"][PEOPLE]) == {"get"}
    assert set(DOCUMENT["paths"][UPLOADS]) == {"post"}
    assert DOCUMENT["components"]["securitySchemes"]["bearer"] == {
        **DOCUMENT["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }
    assert DOCUMENT["security"] == [{"bearer": []}]
    refs = set(_refs(DOCUMENT))
    assert refs, "the document uses no $ref"
    resolver = REGISTRY.resolver(base_uri=URI)
    for target in sorted(refs):
        assert target.startswith("#/"), f"{target}: only references inside the document"
        resolver.lookup(target)  # raises when it does not resolve
        _follow(target)
    for name, schema in DOCUMENT["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # noqa: BLE001 - name the schema that is wrong
            pytest.fail(f"components/schemas/{name} is not a draft 2020-12 schema: {exc}")
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], f"{method} {path} lists no responses"
            names = {_follow(p["$ref"])[1]["name"] if "$ref" in p else p["name"]
                     for p in operation.get("parameters", [])}  # fmt: skip
            assert "site_id" in names, f"{method} {path} does not declare its path parameter"
    upload = DOCUMENT["paths"][UPLOADS]["post"]
    [key] = [p for p in upload["parameters"] if p.get("name") == "Idempotency-Key"]
    assert (key["in"], key["required"]) == ("header", True)
    assert {"200", "400", "401", "404", "413", "429", "5XX"} <= set(upload["responses"])
    assert _follow("#/components/responses/Overloaded")[1]["headers"]["Retry-After"]["required"]


# -- listing people ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, "active", "archived", "all"])
def test_listing_people_fits_the_document(synced: Stack, status: str | None) -> None:
    [leaver, *_] = records(synced, "staff")
    archived = post_upload(
        synced, [{"op": "archive", "type": "staff", "mis_id": leaver["mis_id"]}], "archive-one"
    )
    assert check_answer(archived, UPLOADS, "post")["results"][0]["status"] == "applied"

    params = {} if status is None else {"status": status}
    body = check_answer(get_people(synced, params), PEOPLE, "get")
    statuses = {p["status"] for p in body["people"]}
    expected = {None: {"active"}, "active": {"active"}, "archived": {"archived"}}
    assert statuses == expected.get(status, {"active", "archived"})
    for type_ in ("pupil", "staff", "preadmission"):
        body = check_answer(get_people(synced, {**params, "type": type_}), PEOPLE, "get")
        assert {p["type"] for p in body["people"]} <= {type_}


# -- uploads -----------------------------------------------------------------------------------


def every_operation(stack: Stack) -> list[dict[str, Any]]:
    """One upload holding each kind of operation on real records, every one of which applies."""
    pupil, other_pupil, *_ = records(stack, "pupil")
    staff, *_ = records(stack, "staff")
    applicant, *_ = records(stack, "preadmission")
    new_pupil = {**pupil["fields"], "upn": None, "admission_number": None}
    as_pupil = {
        **{k: v for k, v in applicant["fields"].items() if k != "admission_date"},
        "reg_group": "RB",
    }
    return [
        {"op": "create", "type": "pupil", "mis_id": "OA-1", "fields": new_pupil},
        {"op": "create", "type": "staff", "mis_id": "OA-2", "fields": staff["fields"]},
        {"op": "create", "type": "preadmission", "mis_id": "OA-3", "fields": applicant["fields"]},
        {"op": "update", "type": "pupil", "mis_id": pupil["mis_id"], "fields": {"surname": "Ng"}},
        {"op": "update", "type": "staff", "mis_id": staff["mis_id"], "fields": {"mobile": None}},
        {"op": "archive", "type": "pupil", "mis_id": other_pupil["mis_id"], "fields": {}},
        {"op": "restore", "type": "pupil", "mis_id": other_pupil["mis_id"]},
        {"op": "convert", "type": "pupil", "mis_id": applicant["mis_id"], "fields": as_pupil},
        {"op": "rekey", "type": "staff", "mis_id": staff["mis_id"],
         "fields": {"new_mis_id": "OA-4"}},
    ]  # fmt: skip


def test_an_upload_of_every_operation_fits_the_document(synced: Stack) -> None:
    operations = every_operation(synced)
    assert not errors(component("UploadRequest"), {"operations": operations})

    body = check_answer(post_upload(synced, operations, "every-op"), UPLOADS, "post")
    assert [r["status"] for r in body["results"]] == ["applied"] * len(operations), body
    assert [r["index"] for r in body["results"]] == list(range(len(operations)))

    again = post_upload(synced, operations, "every-op")
    assert check_answer(again, UPLOADS, "post") == body  # the first answer, applied once
    check_answer(get_people(synced, {"status": "all"}), PEOPLE, "get")


def test_each_rejection_code_fits_the_document(synced: Stack) -> None:
    pupil, other_pupil, *_ = records(synced, "pupil")
    staff, *_ = records(synced, "staff")
    cases = [
        ("exists", {"op": "create", "type": "pupil", "mis_id": pupil["mis_id"],
                    "fields": pupil["fields"]}),
        ("exists", {"op": "rekey", "type": "staff", "mis_id": staff["mis_id"],
                    "fields": {"new_mis_id": pupil["mis_id"]}}),
        ("not_found", {"op": "update", "type": "pupil", "mis_id": "OA-nobody",
                       "fields": {"surname": "Ng"}}),
        ("invalid", {"op": "update", "type": "pupil", "mis_id": pupil["mis_id"],
                     "fields": {"gender": "Q"}}),
        ("conflict", {"op": "restore", "type": "pupil", "mis_id": other_pupil["mis_id"]}),
        ("conflict", {"op": "archive", "type": "staff", "mis_id": pupil["mis_id"]}),
    ]  # fmt: skip
    operations = [op for _, op in cases]
    body = check_answer(post_upload(synced, operations, "rejections"), UPLOADS, "post")
    assert [(r["status"], r["code"]) for r in body["results"]] == [
        ("rejected", code) for code, _ in cases
    ], body
    assert "gender" in body["results"][3]["message"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"fields": {"gender": "Q"}}, id="gender"),
        pytest.param({"fields": {"dob": "2016-02-30"}}, id="dob-not-a-real-date"),
        pytest.param({"fields": {"dob": "02/06/2016"}}, id="dob-format"),
        pytest.param({"fields": {"year_code": "Year 1"}}, id="year_code"),
        pytest.param({"fields": {"fsm": None}}, id="fsm-null"),
        pytest.param({"fields": {"payer_mobile": "0770090012345678"}}, id="mobile-16-digits"),
        pytest.param({"fields": {"dietary": "Nut Allergy"}}, id="dietary-not-a-list"),
        pytest.param({"fields": {"shoe_size": "4"}}, id="unknown-field"),
        pytest.param({"fields": {}}, id="update-without-fields"),
        pytest.param({"op": "archive", "fields": {"surname": "Ng"}}, id="archive-with-fields"),
        pytest.param({"op": "rekey", "fields": {"new_mis_id": "X", "surname": "Ng"}}, id="rekey"),
        pytest.param({"op": "convert", "type": "preadmission"}, id="convert-type"),
        pytest.param({"op": "create", "mis_id": "OA-5"}, id="create-not-whole"),
        pytest.param({"colour": "red"}, id="unknown-key"),
    ],
)
def test_what_the_document_refuses_the_simulator_rejects_as_invalid(
    synced: Stack, change: dict[str, Any]
) -> None:
    [pupil, *_] = records(synced, "pupil")
    operation = {
        "op": "update",
        "type": "pupil",
        "mis_id": pupil["mis_id"],
        "fields": {"surname": "Ng"},
        **change,
    }
    assert errors(component("Operation"), operation), f"the document accepts {operation}"
    body = check_answer(post_upload(synced, [operation], "invalid"), UPLOADS, "post")
    assert (body["results"][0]["status"], body["results"][0]["code"]) == ("rejected", "invalid")


# -- refused requests --------------------------------------------------------------------------


def test_an_upload_without_idempotency_key_is_a_listed_400(stack: Stack) -> None:
    response = post_upload(stack, [], None)
    assert response.status_code == 400
    check_answer(response, UPLOADS, "post")


def test_more_than_500_operations_is_a_listed_413(stack: Stack) -> None:
    operations = [{"op": "archive", "type": "pupil", "mis_id": f"P{i}"} for i in range(501)]
    assert errors(component("UploadRequest"), {"operations": operations})
    response = post_upload(stack, operations, "too-many")
    assert response.status_code == 413
    check_answer(response, UPLOADS, "post")
    ok = post_upload(stack, operations[:500], "just-enough")
    assert ok.status_code == 200
    check_answer(ok, UPLOADS, "post")


def test_a_wrong_token_is_a_listed_401(stack: Stack) -> None:
    for response, path, method in (
        (get_people(stack, token="wrong"), PEOPLE, "get"),
        (post_upload(stack, [], "k", token="wrong"), UPLOADS, "post"),
    ):
        assert response.status_code == 401
        check_answer(response, path, method)


def test_an_unknown_site_is_a_listed_404(stack: Stack) -> None:
    for response, path, method in (
        (get_people(stack, site=UNKNOWN_SITE), PEOPLE, "get"),
        (post_upload(stack, [], "k", site=UNKNOWN_SITE), UPLOADS, "post"),
    ):
        assert response.status_code == 404
        check_answer(response, path, method)


def test_a_bad_query_is_a_listed_400(stack: Stack) -> None:
    queries: list[dict[str, str]] = [{"type": "teacher"}, {"status": "left"}]
    for params in queries:
        response = get_people(stack, params)
        assert response.status_code == 400
        check_answer(response, PEOPLE, "get")


@pytest.mark.parametrize("fault", [429, 500, 503])
def test_overload_and_server_errors_are_listed_with_retry_after(stack: Stack, fault: int) -> None:
    stack.parentpay.inject(fault, method="POST", retry_after=2)
    response = post_upload(stack, [], "fault")
    assert response.status_code == fault
    check_answer(response, UPLOADS, "post")
    if fault == 429:
        assert response.headers["Retry-After"] == "2"
    stack.parentpay.inject(fault, method="GET")
    response = get_people(stack)
    assert response.status_code == fault
    check_answer(response, PEOPLE, "get")


# -- the test can fail -------------------------------------------------------------------------


def test_the_document_refuses_a_shape_it_does_not_define(synced: Stack) -> None:
    """A field or key the document lacks, or a wrong code, fails: the checks above have teeth."""
    body = check_answer(get_people(synced, {"status": "all"}), PEOPLE, "get")
    schema = validator(
        f"#/paths/{_escape(PEOPLE)}/get/responses/200/content/application~1json/schema"
    )
    mutations: dict[str, Callable[[dict[str, Any]], object]] = {
        "an extra field": lambda b: b["people"][0]["fields"].update(shoe_size="4"),
        "a missing field": lambda b: b["people"][0]["fields"].pop("surname"),
        "an extra key": lambda b: b["people"][0].update(account_id=7),
        "an unknown type": lambda b: b["people"][0].update(type="parent"),
        "an unknown status": lambda b: b["people"][0].update(status="deleted"),
        "a null fsm": lambda b: next(p for p in b["people"] if p["type"] == "pupil")[
            "fields"
        ].update(fsm=None),
    }
    for what, mutate in mutations.items():
        changed = copy.deepcopy(body)
        mutate(changed)
        with pytest.raises(ValidationError):
            schema.validate(changed)
        assert errors(schema, changed), what

    result: dict[str, Any] = {
        "index": 0, "mis_id": "1", "status": "rejected", "code": "gone", "message": "x",
    }  # fmt: skip
    answer = {"upload_id": "up_1", "results": [result]}
    assert errors(component("UploadAnswer"), answer), "an unknown rejection code"
    result["code"] = "exists"
    assert not errors(component("UploadAnswer"), answer)
    result["status"] = "applied"
    assert errors(component("UploadAnswer"), answer), "an applied result with a code"
