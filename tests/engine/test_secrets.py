"""engine/secrets.py: every form of a secret, the scrubbers, the secrets remembered, and URLs.

The expected forms are made here with the standard library's own encoders (and lxml, requests
and json as bromsync's libraries write them), not with engine.secrets, so a form the module
forgets is a failing test rather than a form both sides forget.
"""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus, urlencode
from xml.sax.saxutils import escape, quoteattr

import pytest
import requests
from lxml import etree

from engine.secrets import (
    SCRUBBED,
    encodings,
    forget,
    forms,
    hide_userinfo,
    remember,
    scrub,
    scrub_bytes,
    scrub_known,
    url_credentials_problem,
    url_userinfo,
)

USER = "parentpay_oakfield"
AWKWARD = "p@ss w&rd<\"'>/+=%"  # every character a URL, XML, JSON or shell writer treats specially
UNICODE = "Pässwörd✓ 日本 Ω"
LATIN = "Pässwörd"  # HTTP Basic sends it as Latin-1
SECRETS = [AWKWARD, UNICODE, LATIN, "s3cret'pw&<x>", "plain"]


def written_forms(secret: str, username: str = USER) -> dict[str, str]:
    """How the world writes `secret`, one writer each."""
    pair = f"{username}:{secret}".encode()
    out = {
        "plain": secret,
        "quote": quote(secret),
        "quote safe=''": quote(secret, safe=""),
        "quote_plus": quote_plus(secret),
        "form body": urlencode({"password": secret}).split("=", 1)[1],
        "xml text": escape(secret),
        "xml attribute": quoteattr(secret)[1:-1],
        "html.escape": html.escape(secret),
        "xml twice": escape(escape(secret)),
        "json": json.dumps(secret)[1:-1],
        "json utf-8": json.dumps(secret, ensure_ascii=False)[1:-1],
        "base64": base64.b64encode(secret.encode()).decode(),
        "base64 url-safe": base64.urlsafe_b64encode(secret.encode()).decode(),
        "basic": base64.b64encode(pair).decode(),
        "repr": repr(secret)[1:-1],
        "repr of bytes": repr(secret.encode())[2:-1],
        "ascii": ascii(secret)[1:-1],
        "lxml text": _lxml_text(secret),
        "lxml attribute": _lxml_attribute(secret),
    }
    if secret.isascii() or secret == LATIN:  # requests sends only Latin-1 in HTTP Basic
        out["basic header"] = requests.auth._basic_auth_str(username, secret).split(" ", 1)[1]
    return out


def _lxml_text(secret: str) -> str:
    element = etree.Element("p")
    element.text = secret
    return etree.tostring(element, encoding="unicode")[3:-4]


def _lxml_attribute(secret: str) -> str:
    element = etree.Element("p", value=secret)
    return etree.tostring(element, encoding="unicode")[len('<p value="') : -len('"/>')]


@pytest.mark.parametrize("secret", SECRETS)
def test_forms_hold_every_way_a_writer_puts_the_secret(secret: str) -> None:
    known = {text.lower() for text in encodings(secret, USER)}
    missing = {
        name: text for name, text in written_forms(secret).items() if text.lower() not in known
    }
    assert missing == {}


def test_forms_are_longest_first_and_none_for_an_empty_secret() -> None:
    lengths = [len(f.text) for f in forms(AWKWARD, USER)]
    assert lengths == sorted(lengths, reverse=True)
    assert forms("") == () and encodings("") == []
    assert {f.xml_depth for f in forms(AWKWARD)} == {0, 1, 2}
    assert [f.xml_depth for f in forms("plain") if f.text == "plain"] == [0]


@pytest.mark.parametrize("secret", SECRETS)
def test_scrub_leaves_no_form_and_keeps_the_words_around_it(secret: str) -> None:
    for name, text in written_forms(secret).items():
        for shown in (text, text.upper()):
            scrubbed = scrub(f"before {shown} after", [secret], username=USER)
            assert scrubbed == f"before {SCRUBBED} after", name


@pytest.mark.parametrize("secret", SECRETS)
def test_scrub_bytes_leaves_no_form_and_keeps_markup_well_formed(secret: str) -> None:
    # Each form as an XML writer (lxml) puts it in text and in an attribute; an XML-escaped
    # form is so escaped twice, and reads back as the marker escaped once.
    once = {"xml text", "xml attribute", "html.escape", "lxml text", "lxml attribute"}
    written = {k: v for k, v in written_forms(secret).items() if k != "xml twice"}
    root = etree.Element("r")
    for text in written.values():
        etree.SubElement(root, "f", value=text).text = text
    document = etree.tostring(root, encoding="utf-8")

    scrubbed = scrub_bytes(document, [secret], username=USER, markup=True)

    read = etree.fromstring(scrubbed)  # still well-formed
    shown = {name: (f.text, f.get("value")) for name, f in zip(written, read, strict=True)}
    marker = {
        name: escape(SCRUBBED) if name in once and text != secret else SCRUBBED
        for name, text in written.items()
    }
    assert shown == {name: (mark, mark) for name, mark in marker.items()}


def test_scrub_bytes_marks_plain_text_plainly_and_twice_escaped_text_twice() -> None:
    assert scrub_bytes(b"denied for parentpay_oakfield", [USER]) == b"denied for <scrubbed>"
    assert scrub_bytes(b"<r>x&amp;amp;y</r>", ["x&y"], markup=True) == (
        b"<r>&amp;lt;scrubbed&amp;gt;</r>"
    )
    # A form escaped once, or not at all, in markup: the marker escaped once.
    assert scrub_bytes(b"<r>x&amp;y x%26y</r>", ["x&y"], markup=True) == (
        b"<r>&lt;scrubbed&gt; &lt;scrubbed&gt;</r>"
    )


def test_scrub_takes_the_longest_secret_first_and_ignores_empty_ones() -> None:
    body = b"<r>parentpay_oakfield-2024</r>"
    assert scrub_bytes(body, [USER, f"{USER}-2024"], markup=True) == b"<r>&lt;scrubbed&gt;</r>"
    assert scrub_bytes(body, ["", ""]) == body
    assert scrub("https://Parentpay_Oakfield:pw@host/x", [USER, "pw"]) == (
        "https://<scrubbed>:<scrubbed>@host/x"
    )


def test_scrub_known_uses_what_was_remembered_and_the_environment() -> None:
    env = {
        "BROMSYNC_PARENTPAY_TOKEN": " tok&en/+= \n",
        "BROMSYNC_SMTP_PASSWORD": "smtp-pw",
        "BROMSYNC_SMTP_URL": "smtp://mailer:url-pw@mail.example:587",
        "BROMSYNC_PARENTPAY_URL": "https://TOKEN-AS-USER@pp.example",
    }
    remember(AWKWARD, USER)
    text = (
        f"a {quote_plus(AWKWARD)} b {base64.b64encode(f'{USER}:{AWKWARD}'.encode()).decode()} "
        f"c {quote('tok&en/+=', safe='')} d smtp-pw e url-pw f token-as-user"
    )

    assert scrub_known(text, env) == (
        "a <scrubbed> b <scrubbed> c <scrubbed> d <scrubbed> e <scrubbed> f <scrubbed>"
    )
    forget()
    assert quote_plus(AWKWARD) in scrub_known(text, {})


@pytest.mark.parametrize(
    ("url", "user", "password", "shown"),
    [
        ("https://host/x", None, None, "https://host/x"),
        ("https://u@host/x", "u", None, "https://***@host/x"),
        ("https://u:p%40ss@host:8443/x", "u", "p@ss", "https://***@host:8443/x"),
        (f"https://u:{AWKWARD}@host/x", "u", AWKWARD, "https://***@host/x"),  # raw / and @
        ("https://TOKEN:@host", "TOKEN", "", "https://***@host"),
        ("smtp://me@school.example@mail.example:587", "me@school.example", None, None),
        ("not a url @ all", None, None, "not a url @ all"),
    ],
)
def test_url_userinfo_is_read_and_hidden_whatever_the_characters(
    url: str, user: str | None, password: str | None, shown: str | None
) -> None:
    assert url_userinfo(url) == (user, password)
    if shown is not None:
        assert hide_userinfo(url) == shown


def test_a_url_with_a_password_is_described_without_it() -> None:
    url = f"https://parentpay_oakfield:{AWKWARD}@mis.example/x"
    problem = url_credentials_problem(url, instead="put it in X", username_instead="user in Y")

    assert problem == (
        "must not hold a password (it reads https://***@mis.example/x): remove what is between "
        "'://' and '@', and the '@'; put it in X"
    )
    assert url_credentials_problem("https://u@h/x", instead="X", username_instead="user in Y") == (
        "must not hold a username (it reads https://***@h/x): remove what is between '://' and "
        "'@', and the '@'; user in Y"
    )
    # Where a username is allowed (SMTP), only a password is a problem.
    assert url_credentials_problem("smtp://u@h:25", instead="X") is None
    assert url_credentials_problem("smtp://u:pw@h:25", instead="X") is not None
    assert url_credentials_problem("https://h/x", instead="X", username_instead="Y") is None
