"""No password or token in any output or file bromsync writes, in any encoding (docs/personal-data.md).

One school, wired to both simulators with secrets full of awkward characters, goes through
every command that runs offline (validate, check, plan --record, apply, run, match, export,
sql) and through the failing paths (a wrong password and a wrong token, a Bromcom URL nobody
answers, a Bromcom 500 page that echoes the request, a crash, credentials in the URLs). Then
everything it printed and every file it left (state files as bytes and table by table, plans,
reports, results, recordings, exports, crash logs) is searched for every encoding of every
secret. The encodings are made here with the standard library, not with engine.secrets, so a
form the scrubbers forget is a failure, not a form both sides forget.
"""

from __future__ import annotations

import base64
import html
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape, quoteattr

import duckdb
import pytest
from click.testing import CliRunner

from bromsync import cli
from engine.sources import SOURCES
from engine.sources.bromcom import BromcomSource
from simulators.bromcom import BromcomSimulator, Fault
from simulators.parentpay import ParentPaySimulator
from tests.conftest import FIXTURE_TODAY, FIXTURES, SITE_ID, write_fixture_school_file

USER = "parentpay_oakfield"
PASSWORD = "p@ss w&rd<\"'>/+=%é✓ 日本"  # the Bromcom password: goes in a SOAP body
TOKEN = "tok@en w&rd<\"'>/+=%"  # the ParentPay token: an HTTP header, so Latin-1 only
SMTP_PASSWORD = "smtp p@ss&<\"'>/+=%ü"
WRONG_PASSWORD = "wr0ng p@ss&<\"'>/+=%ß"  # a mistyped password is a secret too
WRONG_TOKEN = "wr0ng t@ken&<\"'>/+=%"
SECRETS = {
    "the Bromcom password": PASSWORD,
    "the ParentPay token": TOKEN,
    "the SMTP password": SMTP_PASSWORD,
    "a wrong Bromcom password": WRONG_PASSWORD,
    "a wrong ParentPay token": WRONG_TOKEN,
}


def encodings(secret: str) -> dict[str, bytes]:
    """Every way the world writes `secret`, as bytes (UTF-8 unless said)."""
    forms = {
        "plain": secret,
        "URL-encoded (quote)": quote(secret),
        "URL-encoded (quote, nothing safe)": quote(secret, safe=""),
        "URL-encoded (quote_plus)": quote_plus(secret),
        "XML-escaped": escape(secret),
        "XML-escaped (attribute)": quoteattr(secret)[1:-1],
        "HTML-escaped": html.escape(secret),
        "XML-escaped twice": escape(escape(secret)),
        "JSON-escaped": json.dumps(secret)[1:-1],
        "JSON-escaped (UTF-8)": json.dumps(secret, ensure_ascii=False)[1:-1],
        "Python repr": repr(secret)[1:-1],
        "Python repr of bytes": repr(secret.encode())[2:-1],
        "base64": base64.b64encode(secret.encode()).decode(),
        "base64 of user:password (HTTP Basic)": base64.b64encode(
            f"{USER}:{secret}".encode()
        ).decode(),
    }
    return {name: text.encode("utf-8") for name, text in forms.items()}


NEEDLES = [
    (what, how, form.lower())
    for what, secret in SECRETS.items()
    for how, form in encodings(secret).items()
]


def leaks(data: bytes) -> list[str]:
    """Each (secret, encoding) found in `data`, ignoring ASCII case."""
    lowered = data.lower()
    return [f"{what} ({how})" for what, how, form in NEEDLES if form in lowered]


@pytest.fixture
def school(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The fixture school with awkward secrets; everything bromsync writes goes under tmp_path."""
    data = tmp_path / "inputs" / "bromcom"
    shutil.copytree(FIXTURES / "bromcom", data)
    account = data / "20001" / "account.json"
    content = json.loads(account.read_text(encoding="utf-8"))
    account.write_text(json.dumps({**content, "password": PASSWORD}), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # a default --out (plans/) lands here too
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # crash logs
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("BROMSYNC_TODAY", FIXTURE_TODAY)
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", PASSWORD)
    monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", TOKEN)
    monkeypatch.setenv("BROMSYNC_STATE_DIR", str(work / "state"))
    monkeypatch.setenv("BROMSYNC_SMTP_URL", "smtp://alerts@127.0.0.1:2525")
    monkeypatch.setenv("BROMSYNC_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("BROMSYNC_SMTP_FROM", "bromsync@school.example")

    def quick_source(config: Any, **options: Any) -> BromcomSource:
        # Short retries: the unreachable and echoing Bromcom are retried, and must stay fast.
        return BromcomSource.for_school(
            config, max_attempts=2, base_delay=0.01, connect_timeout=2.0, **options
        )

    monkeypatch.setitem(SOURCES, "bromcom", quick_source)
    with (
        BromcomSimulator(data) as bromcom,
        ParentPaySimulator(tmp_path / "inputs" / "parentpay", token=TOKEN, sites=[SITE_ID]) as pp,
    ):
        monkeypatch.setenv("BROMSYNC_PARENTPAY_URL", pp.url)
        school_file = tmp_path / "inputs" / "oakfield.yaml"
        write_fixture_school_file(school_file, bromcom.url)
        yield {
            "root": tmp_path,
            "work": work,
            "file": str(school_file),
            "bromcom": bromcom,
            "parentpay": pp,
        }


def test_no_secret_in_any_output_or_file_in_any_encoding(
    school: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    work, file = school["work"], school["file"]
    outputs: list[tuple[str, bytes]] = []

    def bromsync(*args: str, exit_code: int) -> str:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        printed = result.output + result.stderr
        outputs.append((" ".join(args), printed.encode("utf-8")))
        assert result.exit_code == exit_code, (args, printed)
        return printed

    # Every command, as it is meant to run. The fixture's pupil 1007 ("Year 1") is held back,
    # so planning and pushing end in 3.
    bromsync("validate", file, exit_code=0)
    bromsync("check", file, exit_code=3)
    bromsync("plan", file, "--out", "plans", "--record", "rec", exit_code=3)
    bromsync("apply", "plans/100001.plan.json", exit_code=3)
    bromsync("plan", file, "--offline", "--out", "offline", exit_code=3)
    bromsync("run", file, "--out", "results", "--record", "rec", exit_code=3)
    bromsync("match", file, "--out", "match", exit_code=0)
    bromsync("export", file, "--out", "export", exit_code=3)
    bromsync("sql", file, "SELECT run_id, command, status, message FROM runs", exit_code=0)
    assert len(school["parentpay"].people(SITE_ID)) == 12  # the push happened

    # A wrong password, and a wrong token.
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", WRONG_PASSWORD)
    assert "refused the username or password" in bromsync("plan", file, "--out", "p", exit_code=1)
    bromsync("check", file, exit_code=3)
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", PASSWORD)
    monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", WRONG_TOKEN)
    assert "refused the token" in bromsync("plan", file, "--out", "p", exit_code=1)
    monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", TOKEN)

    # Bromcom's 500 page echoes the request: the password in every form, and the Basic header.
    page = (
        "<html><body><h1>Server Error</h1><pre>"
        + " | ".join(html.escape(form.decode()) for form in encodings(PASSWORD).values())
        + "</pre></body></html>"
    )
    school["bromcom"].inject(Fault.http_status(500, page, times=4))
    bromsync("plan", file, "--out", "p", "--record", "rec-500", exit_code=1)
    [recorded] = (work / "rec-500").rglob("*.html")
    assert b"&lt;scrubbed&gt;" in recorded.read_bytes()  # the echo was recorded, scrubbed

    # Nobody answers at the Bromcom URL.
    dead = school["root"] / "inputs" / "dead.yaml"
    write_fixture_school_file(dead, "http://127.0.0.1:9/Nucleus/TPReadOnlyDataService.asmx")
    assert "did not answer" in bromsync("plan", str(dead), "--out", "p", exit_code=1)

    # A crash, whose exception carries the secrets as a careless library might.
    def crash(*args: object, **kwargs: object) -> None:
        echoed = [PASSWORD, quote_plus(TOKEN), base64.b64encode(f"{USER}:{PASSWORD}".encode())]
        raise RuntimeError(f"unexpected: {echoed!r} {json.dumps(TOKEN)}")

    monkeypatch.setattr("engine.pipeline.fetch_entities", crash)
    assert "traceback was written to" in bromsync("plan", file, "--out", "p", exit_code=1)
    monkeypatch.undo()  # ... which also ended every setting of the fixture: restore the few
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(school["root"] / "tmp"))
    monkeypatch.setenv("BROMSYNC_STATE_DIR", str(work / "state"))
    monkeypatch.setenv("BROMSYNC_TODAY", FIXTURE_TODAY)
    monkeypatch.setenv("BROMCOM_PASSWORD_OAKFIELD", PASSWORD)
    [log] = (school["root"] / "tmp").glob("bromsync-crash-*.log")
    assert "RuntimeError: unexpected: ['<scrubbed>', '<scrubbed>', b'<scrubbed>']" in (
        log.read_text(encoding="utf-8")
    )

    # Credentials written into the URLs are refused (exit 2), and said without them.
    monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", TOKEN)
    pp = school["parentpay"].url.replace(
        "http://", "http://bromsync:" + quote(TOKEN, safe="") + "@"
    )
    monkeypatch.setenv("BROMSYNC_PARENTPAY_URL", pp)
    assert "must not hold a password" in bromsync("run", file, exit_code=2)
    monkeypatch.setenv("BROMSYNC_PARENTPAY_URL", school["parentpay"].url)
    smtp = f"smtp://alerts:{SMTP_PASSWORD}@127.0.0.1:2525"
    monkeypatch.setenv("BROMSYNC_SMTP_URL", smtp)
    monkeypatch.setenv("BROMSYNC_SMTP_PASSWORD", SMTP_PASSWORD)
    assert "BROMSYNC_SMTP_URL must not hold a password" in bromsync("run", file, exit_code=2)
    assert "BROMSYNC_SMTP_URL" in bromsync("apply", "plans/100001.plan.json", exit_code=2)
    in_file = school["root"] / "inputs" / "in-url.yaml"
    write_fixture_school_file(in_file, "URL")
    url = json.dumps(f"https://{USER}:{PASSWORD}@mis.example/x.asmx")  # YAML reads JSON strings
    in_file.write_text(in_file.read_text().replace('"URL"', url), encoding="utf-8")
    assert "bromcom.url must not hold a password" in bromsync("validate", str(in_file), exit_code=2)
    bromsync("plan", str(in_file), exit_code=2)

    found = {name: leaks(printed) for name, printed in outputs}
    files = [p for p in school["root"].rglob("*") if p.is_file() and "inputs" not in p.parts]
    assert {p.suffix for p in files} >= {".duckdb", ".json", ".md", ".html", ".xml", ".csv", ".log"}
    for path in files:
        found[str(path.relative_to(school["root"]))] = leaks(path.read_bytes())
    states = list((work / "state").glob("*.duckdb"))
    [state] = states
    with duckdb.connect(str(state), read_only=True) as con:
        [crashed] = con.execute("SELECT message FROM runs WHERE status = 'crashed'").fetchone() or [
            ""
        ]
    assert "<scrubbed>" in crashed
    for path in states:
        for table, text in state_tables(path):
            found[f"{path.name} table {table}"] = leaks(text.encode("utf-8"))
    assert {where: what for where, what in found.items() if what} == {}

    # The search itself finds what it looks for: the simulators' own files hold the secrets.
    inputs = b"".join(p.read_bytes() for p in (school["root"] / "inputs").rglob("*.json"))
    assert "the Bromcom password (JSON-escaped)" in leaks(inputs)
    planted = b"x" + quote_plus(TOKEN).upper().encode() + b"x"
    assert leaks(planted) == ["the ParentPay token (URL-encoded (quote_plus))"]


def state_tables(path: Path) -> Iterator[tuple[str, str]]:
    """Every table and view of a state file, each as one text of all its rows."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY table_name"
            ).fetchall()
        ]
        assert "runs" in names and any(n.startswith("raw_") for n in names)
        for name in names:
            rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
            yield name, "\n".join(repr(row) for row in rows)
