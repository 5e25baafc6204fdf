"""engine/notify.py and the results message: sent by `run` and `apply` to a real SMTP server on
127.0.0.1 (aiosmtpd, started by the test) and read back from it (docs/results.md, "The
results message")."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from syrupy.assertion import SnapshotAssertion

from bromsync import cli
from engine.config.environment import SmtpSettings, smtp_settings
from engine.errors import ConfigError, NotifyError
from engine.notify import send_message
from tests.conftest import SITE_ID, Stack, write_fixture_school_file
from tests.helpers.smtp_server import SmtpServer

SENDER = "bromsync@trust.example.org"
OFFICE = ["office@oakfield.example.org", "head@oakfield.example.org"]


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        monkeypatch.setenv("BROMSYNC_SMTP_URL", server.url)
        monkeypatch.setenv("BROMSYNC_SMTP_FROM", SENDER)
        yield server


def notify(stack: Stack, when: str = "problems") -> None:
    """The fixture school file, with the office and the head teacher to tell."""
    write_fixture_school_file(
        stack.school_file,
        stack.bromcom.url,
        notify=f"{{email: [{', '.join(OFFICE)}], when: {when}}}",
    )


def clean(stack: Stack) -> None:
    """Bromcom data with nothing for the checks to hold back: the run exits 0."""
    stack.edit_row("Students", "StudentID", 1007, YearGroup="1")
    stack.edit_row(
        "PersonCommunications", "Value", "07700 900321 / 07700 900322", Value="07700 900321"
    )


def results(stack: Stack) -> dict[str, Any]:
    return json.loads((stack.root / "plans" / "100001.results.json").read_text(encoding="utf-8"))


def scrubbed(message: EmailMessage, text: str, html: str) -> str:
    """The message as a person reads it, without what changes from run to run."""
    head = "\n".join(f"{k}: {message[k]}" for k in ("Subject", "From", "To"))
    body = f"{head}\n\n--- text/plain ---\n{text}\n--- text/html ---\n{html}"
    body = re.sub(r"started [0-9T:+-]+ · [0-9.]+ s", "started <time> · <seconds> s", body)
    return body


def test_a_run_with_records_held_back_sends_the_results_message(
    stack: Stack, smtp: SmtpServer, raw: SnapshotAssertion
) -> None:
    notify(stack)
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3, result.output  # 1007 is held back

    [got] = smtp.received
    assert got.sender == SENDER and got.recipients == OFFICE
    message = got.message
    assert message["To"] == ", ".join(OFFICE) and message["From"] == SENDER
    assert message["Subject"] == (
        "Oakfield Primary School (URN 100001): needs attention: 12 applied, 1 held back"
    )
    text, html = got.part("plain"), got.part("html")
    # The text part is the results file, word for word; the HTML part says the same.
    assert text == (stack.root / "plans" / "100001.results.md").read_text(encoding="utf-8")
    for said in ("1007 Zoë Chen (year Year 1, 1L)", "year_code_not_parentpay", "mobile_too_long"):
        assert said in text and said in html
    assert "Nut Allergy" not in text + html  # nothing medical, nothing of free meals
    assert scrubbed(message, text, html) == raw

    assert f"results message sent to {', '.join(OFFICE)}" in result.output
    assert results(stack)["notification"] == {
        "to": OFFICE, "when": "problems", "sent": True, "error": None,
    }  # fmt: skip


def test_the_message_is_masked_even_with_show_sensitive(stack: Stack, smtp: SmtpServer) -> None:
    notify(stack)
    assert bromsync("run", str(stack.school_file), "--show-sensitive").exit_code == 3
    [got] = smtp.received
    assert "Dietary needs and free-meal values are shown as ***" in got.part("plain")
    on_disk = (stack.root / "plans" / "100001.results.md").read_text(encoding="utf-8")
    assert "shown as ***" not in on_disk  # the file follows --show-sensitive; the message never


def test_when_problems_sends_nothing_after_a_clean_run(stack: Stack, smtp: SmtpServer) -> None:
    notify(stack, when="problems")
    clean(stack)
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 0, result.output
    assert smtp.received == []
    assert "results message" not in result.output
    note = results(stack)["notification"]
    assert note["sent"] is False and note["error"] is None
    assert note["skipped"] == "nothing went wrong, and notify.when is problems"


def test_when_always_sends_after_a_clean_run_too(stack: Stack, smtp: SmtpServer) -> None:
    notify(stack, when="always")
    clean(stack)
    assert bromsync("run", str(stack.school_file)).exit_code == 0
    [got] = smtp.received
    assert got.message["Subject"] == "Oakfield Primary School (URN 100001): synced: 13 applied"


def test_apply_sends_it_to_the_addresses_the_plan_recorded(stack: Stack, smtp: SmtpServer) -> None:
    notify(stack)
    assert bromsync("plan", str(stack.school_file), "--out", "plans").exit_code == 3
    assert smtp.received == []  # plan pushes nothing and tells nobody
    result = bromsync("apply", "plans/100001.plan.json")
    assert result.exit_code == 3, result.output
    [got] = smtp.received
    assert got.recipients == OFFICE and "bromsync apply" in got.part("plain")


def test_an_unreachable_smtp_server_is_reported_and_changes_no_exit_code(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    notify(stack)
    monkeypatch.setenv("BROMSYNC_SMTP_FROM", SENDER)
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        monkeypatch.setenv("BROMSYNC_SMTP_URL", f"smtp://127.0.0.1:{port}")
        result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3, result.output  # as without notify: 1007 is held back
    assert len(stack.parentpay.people(SITE_ID)) == 12  # the sync went ahead
    line = next(x for x in result.output.splitlines() if "results message" in x)
    assert line.startswith("    results message NOT sent: the results message to office@")
    assert f"smtp://127.0.0.1:{port} could not be reached" in line
    note = results(stack)["notification"]
    assert note["sent"] is False and f"127.0.0.1:{port} could not be reached" in note["error"]


def test_notify_without_an_smtp_server_says_nothing_was_sent(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BROMSYNC_SMTP_URL", raising=False)
    notify(stack)
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3
    assert (
        "results message NOT sent: notify.email is set but BROMSYNC_SMTP_URL is not"
        in result.output
    )


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"BROMSYNC_SMTP_URL": "smtp://alerts:s3cret@127.0.0.1:25"}, "must not hold a password"),
        ({"BROMSYNC_SMTP_URL": "smtp://127.0.0.1:25"}, "BROMSYNC_SMTP_FROM is not"),
        ({"BROMSYNC_SMTP_URL": "smtp://alerts@127.0.0.1:25", "BROMSYNC_SMTP_FROM": SENDER},
         "BROMSYNC_SMTP_PASSWORD is not set"),
    ],
)  # fmt: skip
def test_a_wrong_smtp_setting_stops_the_run_before_any_school_with_exit_2(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], said: str
) -> None:
    monkeypatch.delenv("BROMSYNC_SMTP_FROM", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 2, result.output
    assert said in result.output and "s3cret" not in result.output
    assert stack.parentpay.people(SITE_ID) == [] and not stack.bromcom.requests


def test_settings_read_the_user_port_and_sender() -> None:
    env = {
        "BROMSYNC_SMTP_URL": "smtps://alerts%40trust.example.org@mail.example.org",
        "BROMSYNC_SMTP_PASSWORD": "pw",
        "BROMSYNC_SMTP_FROM": SENDER,
    }
    settings = smtp_settings(env)
    assert settings == SmtpSettings(
        "mail.example.org", 465, True, SENDER, "alerts@trust.example.org", "pw"
    )
    assert "pw" not in repr(settings)
    assert smtp_settings({}) is None
    with pytest.raises(ConfigError, match="names no user"):
        smtp_settings({"BROMSYNC_SMTP_URL": "smtp://h:25", "BROMSYNC_SMTP_PASSWORD": "pw",
                       "BROMSYNC_SMTP_FROM": SENDER})  # fmt: skip


def test_a_password_is_never_sent_over_a_connection_left_in_clear(smtp: SmtpServer) -> None:
    host, port = smtp.url.removeprefix("smtp://").split(":")
    settings = SmtpSettings(host, int(port), False, SENDER, user="alerts", password="pw")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, OFFICE[0], "test"
    message.set_content("hello")
    with pytest.raises(NotifyError, match="does not offer STARTTLS, so the SMTP password would"):
        send_message(settings, message)
    assert smtp.received == []
    send_message(SmtpSettings(host, int(port), False, SENDER), message)  # no password: it goes
    assert [r.recipients for r in smtp.received] == [[OFFICE[0]]]


def test_a_school_file_with_a_bad_address_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    write_fixture_school_file(path, "http://127.0.0.1:1/x", notify="{email: [office], when: often}")
    result = bromsync("validate", str(path))
    assert result.exit_code == 2
    assert "notify.email[0] is not in the right form: one email address" in result.output
    assert "notify.when: 'often' is not allowed; use one of: problems, always" in result.output
