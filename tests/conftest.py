"""Shared fixtures. Every test runs with non-loopback network access made to fail loudly."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check(address: object) -> None:
    if isinstance(address, tuple) and address and not _is_loopback(address[0]):
        raise AssertionError(f"test tried to reach {address!r}: tests may only use 127.0.0.1")


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    if host is not None and not _is_loopback(
        host if not isinstance(host, bytes) else host.decode()
    ):
        raise AssertionError(f"test tried to resolve {host!r}: tests may only use 127.0.0.1")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection or name lookup that is not loopback (CONTRIBUTING.md, "Fakes, not mocks")."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Each test starts with no remembered secret (engine.secrets), as each command does."""
    from engine.secrets import forget

    forget()
    yield
    forget()


class RawText(SingleFileSnapshotExtension):
    """One readable text file per snapshot (CONTRIBUTING.md, "golden cases as files")."""

    file_extension = "raw"
    _write_mode = WriteMode.TEXT


@pytest.fixture
def raw(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(RawText)


# -- the fixture school, served by the real simulators on loopback ------------------------------

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_TODAY = "2026-11-28"
# The school-file values mapping expressions read with setting() (engine.pipeline.school_settings),
# for the fixture school: docs/school-file.md's defaults, UFSM years R-2 and Nut Allergy allowed.
FIXTURE_SETTINGS: dict[str, Any] = {
    "lawful_basis": "legitimate_interest",
    "include_enrolment_statuses": ["C", "M"],
    "staff_id_prefix": "",
    "ufsm_year_codes": ["R", "1", "2"],
    "year_code_aliases": {},
    "dietary_allow": ["Nut Allergy"],
}
FIXTURE_PASSWORD = "fixture-password"
PARENTPAY_TOKEN = "test-token"
SITE_ID = 5001


@dataclass
class Stack:
    """The fixture school wired to both simulators: edit `data`, run bromsync, read `parentpay`."""

    root: Path
    data: Path  # the Bromcom dataset folder (a copy, safe to edit)
    school_file: Path
    state_dir: Path
    plans: Path
    bromcom: Any
    parentpay: Any

    def entity(self, name: str) -> dict[str, Any]:
        return json.loads((self.data / "20001" / f"{name}.json").read_text(encoding="utf-8"))

    def save_entity(self, name: str, content: dict[str, Any]) -> None:
        path = self.data / "20001" / f"{name}.json"
        path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
        # The simulator notices a changed file by its content; the moved mtime is belt and
        # braces for file systems with coarse timestamps.
        stamp = path.stat().st_mtime + 2
        os.utime(path, (stamp, stamp))

    def edit_row(self, entity: str, key: str, value: Any, **changes: Any) -> None:
        content = self.entity(entity)
        [row] = [r for r in content["rows"] if r.get(key) == value]
        row.update(changes)
        self.save_entity(entity, content)

    def permitted(self) -> list[str]:
        path = self.data / "20001" / "account.json"
        return list(json.loads(path.read_text(encoding="utf-8"))["permitted"])

    def account(self, **changes: Any) -> None:
        path = self.data / "20001" / "account.json"
        content = json.loads(path.read_text(encoding="utf-8"))
        content.update(changes)
        path.write_text(json.dumps(content), encoding="utf-8")
        stamp = path.stat().st_mtime + 2
        os.utime(path, (stamp, stamp))


def write_fixture_school_file(path: Path, url: str, **extra: str) -> None:
    lines = [
        "school: {name: Oakfield Primary School, urn: 100001, parentpay_site_id: 5001}",
        f'bromcom: {{url: "{url}", org_id: 20001, username: parentpay_oakfield, '
        "password_env: BROMCOM_PASSWORD_OAKFIELD}",
        "upload: {options: [pupils, staff, preadmissions], lawful_basis: legitimate_interest}",
        'ufsm: {year_codes: [R, "1", "2"]}',
        "dietary: {allow: [Nut Allergy]}",
    ]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    from simulators.bromcom import BromcomSimulator
    from simulators.parentpay import ParentPaySimulator

    data = tmp_path / "bromcom"
    shutil.copytree(FIXTURES / "bromcom", data)
    monkeypatch.setenv("BROMSYNC_TODAY", FIXTURE_TODAY)
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", FIXTURE_PASSWORD)
    monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", PARENTPAY_TOKEN)
    monkeypatch.setenv("BROMSYNC_STATE_DIR", str(tmp_path / "state"))
    # run and apply write their results to ./plans by default: here, not in the repository.
    monkeypatch.chdir(tmp_path)
    with (
        BromcomSimulator(data) as bromcom,
        ParentPaySimulator(
            tmp_path / "parentpay", token=PARENTPAY_TOKEN, sites=[SITE_ID]
        ) as parentpay,
    ):
        monkeypatch.setenv("BROMSYNC_PARENTPAY_URL", parentpay.url)
        school_file = tmp_path / "oakfield.yaml"
        write_fixture_school_file(school_file, bromcom.url)
        yield Stack(
            tmp_path, data, school_file, tmp_path / "state", tmp_path / "plans", bromcom, parentpay
        )
