"""The harness of the bad-input corpus (tests/test_bad_input.py): one synced primary, restored
for every case, and the verdict on what a case did.

A generated 210-pupil primary (simulators/datagen) is synced once through both simulators; its
state folder, its Bromcom data and the ParentPay simulator's store are then saved, and each case
starts from that saved state, breaks one thing (`Bad`), runs one command and is judged
(`judge`): the exit code, a phrase of the message, and what ParentPay holds afterwards, compared
person by person with what it held after the sync.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import engine.shipped
from bromsync import cli
from simulators.bromcom import BromcomSimulator, Fault
from simulators.datagen import SchoolSummary, generate_school, write_school_file
from simulators.parentpay import ParentPaySimulator

TODAY = "2026-11-28"
ORG_ID = 40002
URN = 100002
SITE_ID = 5002
SEED = 2026
PASSWORD_ENV = "CORPUS_BROMCOM_PASSWORD"
# Characters that XML, URL and JSON escape differently, so a leak in any of them is visible.
PASSWORD = "corpus&pass+w<rd>"
TOKEN = "corpus-parentpay-token-4f1c"
SECRETS = (PASSWORD, TOKEN)

Person = dict[str, Any]
People = dict[str, Person]


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the synced primary ---------------------------------------------------------------------


@dataclass
class Synced:
    """The primary after its first sync, and everything needed to put it back that way."""

    root: Path
    summary: SchoolSummary
    data: Path  # the live Bromcom folder of the school (DATA/<org_id>)
    school_file: Path
    school_text: str
    state_dir: Path
    plans: Path
    bromcom: BromcomSimulator
    parentpay: ParentPaySimulator
    people: People  # ParentPay after the sync
    bad_mobile: tuple[int, str]  # (PersonID, value): the generator's two numbers in one field
    saved: Path = field(init=False)

    def __post_init__(self) -> None:
        self.saved = self.root / "saved"

    def save(self) -> None:
        """Keep the state folder, the Bromcom data and ParentPay's store as they are now."""
        shutil.rmtree(self.saved, ignore_errors=True)
        self.saved.mkdir()
        shutil.copytree(self.state_dir, self.saved / "state")
        shutil.copytree(self.data, self.saved / "bromcom")
        _copy_sqlite(self._store(), self.saved / "parentpay.sqlite3")

    def restore(self) -> None:
        """Put everything back as `save` left it: each case then costs about one run."""
        self.bromcom.faults.clear()
        self.bromcom.clear_requests()
        self.parentpay.clear_faults()
        self.parentpay.clear_requests()
        for saved, live in (
            (self.saved / "state", self.state_dir),
            (self.saved / "bromcom", self.data),
        ):
            shutil.rmtree(live, ignore_errors=True)
            shutil.copytree(saved, live)
        shutil.rmtree(self.plans, ignore_errors=True)
        _copy_sqlite(self.saved / "parentpay.sqlite3", self._store())
        self.school_file.write_text(self.school_text, encoding="utf-8")

    def people_now(self) -> People:
        return {p["mis_id"]: p for p in self.parentpay.people(SITE_ID, status="all")}

    def _store(self) -> Path:
        return self.parentpay.data_dir / "parentpay.sqlite3"


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a whole sqlite database with its backup API (safe for the simulator's WAL file)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _environment(state_dir: Path, parentpay_url: str) -> dict[str, str]:
    return {
        "BROMSYNC_TODAY": TODAY,
        PASSWORD_ENV: PASSWORD,
        "BROMSYNC_PARENTPAY_URL": parentpay_url,
        "BROMSYNC_PARENTPAY_TOKEN": TOKEN,
        "BROMSYNC_STATE_DIR": str(state_dir),
    }


@contextmanager
def synced_primary(root: Path) -> Iterator[Synced]:
    """Generate the primary, start both simulators, sync it once and save that state.

    The generator gives one payer two mobile numbers in one field (held back by
    mobile_too_long); that is corrected first, so the synced school is clean (exit 0) and
    every case breaks exactly one thing.
    """
    summary = generate_school(
        root / "bromcom",
        org_id=ORG_ID,
        seed=SEED,
        size="primary",
        today=dt.date.fromisoformat(TODAY),
        username="parentpay_corpus",
        password=PASSWORD,
        urn=URN,
    )
    data = root / "bromcom" / str(ORG_ID)
    phones = json.loads((data / "PersonCommunications.json").read_text(encoding="utf-8"))
    [bad] = [r for r in phones["rows"] if sum(c.isdigit() for c in r["Value"]) > 15]
    bad_mobile = (int(bad["PersonID"]), str(bad["Value"]))
    bad["Value"] = bad["Value"].split("/")[0].strip()
    (data / "PersonCommunications.json").write_text(json.dumps(phones), encoding="utf-8")

    with (
        pytest.MonkeyPatch.context() as mp,
        BromcomSimulator(root / "bromcom") as bromcom,
        ParentPaySimulator(root / "parentpay", token=TOKEN, sites=[SITE_ID]) as parentpay,
    ):
        state_dir = root / "state"
        for name, value in _environment(state_dir, parentpay.url).items():
            mp.setenv(name, value)
        school_file = root / "schools" / "highfield.yaml"
        write_school_file(
            school_file,
            summary,
            url=bromcom.url,
            password_env=PASSWORD_ENV,
            parentpay_site_id=SITE_ID,
        )
        first = bromsync("run", str(school_file))
        assert first.exit_code == 0, first.output
        again = bromsync("run", str(school_file))
        assert again.exit_code == 0 and "nothing to push" in again.output, again.output
        synced = Synced(
            root=root,
            summary=summary,
            data=data,
            school_file=school_file,
            school_text=school_file.read_text(encoding="utf-8"),
            state_dir=state_dir,
            plans=root / "plans",
            bromcom=bromcom,
            parentpay=parentpay,
            people={},
            bad_mobile=bad_mobile,
        )
        synced.people = synced.people_now()
        synced.save()
        yield synced


# -- breaking one thing ----------------------------------------------------------------------


class Bad:
    """What a case may break, and what it expects: `values` fill the case's phrases and
    command, `expected` lists the ParentPay changes that rightly go (the other records)."""

    def __init__(self, synced: Synced, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        self.synced = synced
        self.monkeypatch = monkeypatch
        self.tmp = tmp
        self.expected: dict[str, dict[str, Any]] = {}
        self.secrets: list[str] = list(SECRETS)
        plans = synced.plans
        self.values: dict[str, Any] = {
            "school": str(synced.school_file),
            "file": synced.school_file.name,
            "plans": str(plans),
            "plan": str(plans / f"{URN}.plan.json"),
            "state": str(synced.state_dir),
            "name": synced.summary.name,
            "urn": URN,
        }
        for kind, many in (("pupil", "pupils"), ("staff", "staff"), ("preadmission", "pre")):
            self.values[f"n_{many}"] = sum(
                1 for p in synced.people.values() if p["type"] == kind and p["status"] == "active"
            )
        self._shipped: Path | None = None

    # school file
    def school_text(self) -> str:
        return self.synced.school_file.read_text(encoding="utf-8")

    def write_school(self, content: str | bytes) -> None:
        path = self.synced.school_file
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")

    def school_replace(self, old: str, new: str) -> int:
        """Replace `old` (once) in the school file; returns the line it is on, also kept as
        values["line"] (for phrases like "{file}:{line}:")."""
        text = self.school_text()
        assert old in text, f"{old!r} is not in the school file:\n{text}"
        at = text.index(old)
        self.write_school(text.replace(old, new, 1))
        line = text.count("\n", 0, at) + 1
        self.values["line"] = line
        return line

    def school_add(self, yaml_text: str) -> int:
        text = self.school_text()
        self.write_school(text + yaml_text)
        line = text.count("\n") + 1
        self.values["line"] = line
        return line

    def secret(self, value: str) -> str:
        """A value the output must never show (a password pasted where it should not be)."""
        self.secrets.append(value)
        return value

    # environment
    def setenv(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)

    def delenv(self, name: str) -> None:
        self.monkeypatch.delenv(name, raising=False)

    # Bromcom
    def entity(self, name: str) -> dict[str, Any]:
        content: dict[str, Any] = json.loads(
            (self.synced.data / f"{name}.json").read_text(encoding="utf-8")
        )
        return content

    def save_entity(self, name: str, content: dict[str, Any]) -> None:
        (self.synced.data / f"{name}.json").write_text(
            json.dumps(content, ensure_ascii=False), encoding="utf-8"
        )

    def edit_rows(self, entity: str, edit: Callable[[list[dict[str, Any]]], object]) -> None:
        content = self.entity(entity)
        edit(content["rows"])
        self.save_entity(entity, content)

    def column_type(
        self, entity: str, column: str, kind: str, convert: Callable[[Any], Any]
    ) -> None:
        """Declare `column` as `kind` in the inline schema and convert every value."""
        content = self.entity(entity)
        content["columns"] = [[c, kind if c == column else t] for c, t in content["columns"]]
        for row in content["rows"]:
            if row.get(column) is not None:
                row[column] = convert(row[column])
        self.save_entity(entity, content)

    def rename_column(self, entity: str, old: str, new: str | None) -> None:
        """Rename a column of an entity (None: the column vanishes), in schema and rows."""
        content = self.entity(entity)
        assert old in [c for c, _ in content["columns"]], f"{entity} has no column {old}"
        content["columns"] = [
            [new if c == old else c, t]
            for c, t in content["columns"]
            if new is not None or c != old
        ]
        for row in content["rows"]:
            value = row.pop(old, None)
            if new is not None and value is not None:
                row[new] = value
        self.save_entity(entity, content)

    def account(self, **changes: Any) -> None:
        path = self.synced.data / "account.json"
        content = json.loads(path.read_text(encoding="utf-8"))
        content.update(changes)
        path.write_text(json.dumps(content), encoding="utf-8")

    def untick(self, *entities: str) -> None:
        path = self.synced.data / "account.json"
        permitted = json.loads(path.read_text(encoding="utf-8"))["permitted"]
        self.account(permitted=[e for e in permitted if e not in entities])

    def fault(self, fault: Fault) -> None:
        self.synced.bromcom.inject(fault)

    # the shipped mapping files
    def edit_mapping(self, name: str, old: str, new: str) -> int:
        """Edit mappings/<name> as a maintainer would: a copy of the shipped files stands in
        for them for this case. Returns the line of the edit, also kept as values["line"]."""
        if self._shipped is None:
            real = Path(engine.shipped._ROOT)
            self._shipped = self.tmp / "shipped"
            self._shipped.mkdir()
            for entry in real.iterdir():
                if entry.name != "mappings":
                    (self._shipped / entry.name).symlink_to(entry)
            shutil.copytree(real / "mappings", self._shipped / "mappings")
            self.monkeypatch.setattr(engine.shipped, "_ROOT", self._shipped)
        path = self._shipped / "mappings" / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in mappings/{name}"
        self.values["line"] = text.count("\n", 0, text.index(old)) + 1
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return int(self.values["line"])

    # records
    def pupil(self, nth: int = 0, *, key: str = "pupil") -> dict[str, Any]:
        """The nth Students row (by StudentID) that is active in ParentPay and has its legal
        surname as its only surname; its id and name become values[key] and values[key_name]."""
        rows = sorted(self.entity("Students")["rows"], key=lambda r: r["StudentID"])
        synced = self.synced.people
        fit = [
            r
            for r in rows
            if synced.get(str(r["StudentID"]), {}).get("status") == "active"
            and synced[str(r["StudentID"])]["type"] == "pupil"
            and not r.get("PreferredLastName")
            and not r.get("PreferredFirstName")
        ]
        row = fit[nth]
        self.values[key] = str(row["StudentID"])
        self.values[f"{key}_name"] = f"{row['FirstName']} {row['LastName']}"
        return row

    def edit_pupil(self, student_id: str, **changes: Any) -> None:
        def edit(rows: list[dict[str, Any]]) -> None:
            [row] = [r for r in rows if str(r["StudentID"]) == student_id]
            for column, value in changes.items():
                if value is None:
                    row.pop(column, None)
                else:
                    row[column] = value

        self.edit_rows("Students", edit)

    def legit_change(self) -> str:
        """A real change to another pupil (a new surname), which must still go: the case then
        proves that only the bad record was held back. Returns that pupil's id."""
        row = self.pupil(-1, key="other")
        new = f"{row['LastName']}-Okafor"
        self.edit_pupil(str(row["StudentID"]), LastName=new)
        self.expected[str(row["StudentID"])] = {"surname": new, "legal_surname": new}
        return str(row["StudentID"])

    def run(self, *args: str) -> Result:
        """A command a case runs before its own (say, the plan it then edits)."""
        return bromsync(*(a.format(**self.values) for a in args))


# -- the verdict -----------------------------------------------------------------------------


@dataclass
class Verdict:
    harmful: list[str]  # something wrong pushed, or exit 0 on a broken input
    unclear: list[str]  # wrong exit code, phrase missing, crash, leak, other records not sent

    @property
    def clear(self) -> bool:
        return not self.harmful and not self.unclear


def judge(
    exits: tuple[int, ...],
    phrases: list[str],
    absent: list[str],
    result: Result,
    before: People,
    after: People,
    bad: Bad,
) -> Verdict:
    harmful: list[str] = []
    unclear: list[str] = []
    expected = bad.expected
    wrong = {
        mis_id: (before.get(mis_id), after.get(mis_id))
        for mis_id in sorted(set(before) | set(after))
        if before.get(mis_id) != after.get(mis_id)
        and not _as_expected(before.get(mis_id), after.get(mis_id), expected.get(mis_id))
    }
    if wrong:
        kinds: dict[str, int] = {}
        for old, new in wrong.values():
            for kind in _kinds(old, new):
                kinds[kind] = kinds.get(kind, 0) + 1
        tally = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        harmful.append(f"{len(wrong)} records went wrong in ParentPay: {tally}")
        for mis_id, (old, new) in list(wrong.items())[:5]:
            harmful.append(f"  e.g. {mis_id}: {_change(old, new)}")
    for mis_id, want in expected.items():
        new = after.get(mis_id)
        if new is None or any(new["fields"].get(k) != v for k, v in want.items()):
            unclear.append(f"the other records did not go ({mis_id} should now have {want})")
    if result.exit_code == 0 and 0 not in exits:
        harmful.append("exit 0 on a broken input")
    if result.exit_code not in exits:
        unclear.append(f"exit {result.exit_code}, expected {' or '.join(map(str, exits))}")
    output = result.output.casefold()
    for phrase in phrases:
        if phrase.casefold() not in output:
            unclear.append(f"no {phrase!r} in the output")
    for phrase in absent:
        if phrase.casefold() in output:
            unclear.append(f"the output says {phrase!r}")
    if "failed unexpectedly" in output:
        unclear.append("it crashed (a crash log, not a located error)")
    for secret in bad.secrets:
        if secret and secret.casefold() in output:
            unclear.append("the output shows a secret")
    return Verdict(harmful, unclear)


def _as_expected(old: Person | None, new: Person | None, want: dict[str, Any] | None) -> bool:
    """True when `new` is `old` with exactly the fields a real change of the case gives."""
    if old is None or new is None or want is None:
        return False
    same = (new["type"], new["status"]) == (old["type"], old["status"])
    return same and new["fields"] == {**old["fields"], **want}


def _kinds(old: Person | None, new: Person | None) -> list[str]:
    """What happened to one record, in words: created, archived, a field blanked..."""
    if old is None or new is None:
        return ["created" if old is None else "deleted"]
    kinds = []
    if old["status"] != new["status"]:
        kinds.append("archived" if new["status"] == "archived" else "restored")
    if old["type"] != new["type"]:
        kinds.append(f"made {new['type']}")
    for name in sorted(set(old["fields"]) | set(new["fields"])):
        a, b = old["fields"].get(name), new["fields"].get(name)
        if a != b:
            kinds.append(f"{name} blanked" if b in (None, [], False) else f"{name} changed")
    return kinds


def _change(old: Person | None, new: Person | None) -> str:
    if old is None:
        return f"created ({new and new['type']})"
    if new is None:
        return "deleted"
    parts = []
    if old["status"] != new["status"]:
        parts.append(f"{old['status']} -> {new['status']}")
    if old["type"] != new["type"]:
        parts.append(f"{old['type']} -> {new['type']}")
    for name in sorted(set(old["fields"]) | set(new["fields"])):
        a, b = old["fields"].get(name), new["fields"].get(name)
        if a != b:
            parts.append(f"{name} {_short(a)} -> {_short(b)}")
    return ", ".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@contextmanager
def quiet_crash_logs(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Crash logs of a case go to its own folder, not the system's temporary one."""
    folder.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield


def fast_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both clients as the CLI builds them, with the waits between retries made short (the
    number of attempts unchanged), so that a Bromcom that always fails costs milliseconds."""
    from engine.sources import SOURCES
    from engine.sources.bromcom import BromcomSource
    from engine.targets import TARGETS
    from engine.targets.parentpay import ParentPayClient

    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.01))

    def source(school: Any, **options: Any) -> BromcomSource:
        options = {"connect_timeout": 2.0, "base_delay": 0.01, "sleep": sleep, **options}
        return BromcomSource.for_school(school, **options)

    def target(**options: Any) -> ParentPayClient:
        return ParentPayClient.from_env(**{"backoff_base": 0.01, "sleep": sleep, **options})

    monkeypatch.setitem(SOURCES, "bromcom", source)
    monkeypatch.setitem(TARGETS, "parentpay", target)
