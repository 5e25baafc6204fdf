"""Secrets: every form a password or token takes in text, scrubbing them, and URLs that hold one.

docs/personal-data.md: no password or token appears in any output or file bromsync writes, in
any encoding. A server that echoes a request, a proxy's error page or a traceback may carry a
secret written plain, URL-encoded, XML- or JSON-escaped, shown by Python's repr (a message's
`!r`, a traceback) or base64-encoded (alone, or as the `user:password` of HTTP Basic), so
`forms` lists all of those and every scrubber replaces each of them (`scrub`, `scrub_bytes`; engine.sources.recording for Bromcom's answers).

The secrets this process has read (the Bromcom passwords, the ParentPay token) are remembered
(`remember`), so the last lines of defence, the crash log and the messages of unexpected errors,
can be scrubbed of them (`scrub_known`) without knowing where each came from.

Decisions the contract leaves open:
- Matching ignores letter case (ASCII case in bytes): a server may echo a secret upper-cased,
  and scrubbing a little too much is harmless. Longer forms are replaced first, so a password
  that contains the username is replaced whole.
- A URL "holds a password" when anything after its `scheme://` and before its last `@` has a
  `:`; the text before that `@` is its userinfo however odd the characters in it (a raw `/`,
  `?` or `#` in a pasted password included), so such a URL is refused rather than misread.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar
from urllib.parse import quote, quote_plus, unquote

__all__ = [
    "PARENTPAY_TOKEN_ENV",
    "PARENTPAY_URL_ENV",
    "SCRUBBED",
    "SMTP_PASSWORD_ENV",
    "SMTP_URL_ENV",
    "Form",
    "encodings",
    "forget",
    "forms",
    "hide_userinfo",
    "remember",
    "scrub",
    "scrub_bytes",
    "scrub_known",
    "url_credentials_problem",
    "url_userinfo",
]

SCRUBBED = "<scrubbed>"

# The variables that hold a secret, or a URL that must not (docs/school-file.md, "The environment").
PARENTPAY_URL_ENV = "BROMSYNC_PARENTPAY_URL"
PARENTPAY_TOKEN_ENV = "BROMSYNC_PARENTPAY_TOKEN"
SMTP_URL_ENV = "BROMSYNC_SMTP_URL"
SMTP_PASSWORD_ENV = "BROMSYNC_SMTP_PASSWORD"
_SECRET_VARIABLES = (PARENTPAY_TOKEN_ENV, SMTP_PASSWORD_ENV)
_URL_VARIABLES = (PARENTPAY_URL_ENV, SMTP_URL_ENV)

S = TypeVar("S", str, bytes)
_PREFIX = 6  # characters a group of forms shares, searched once for the whole group

# What requests leaves unquoted when it tidies a URL (requests.utils.requote_uri).
_REQUOTE_SAFE = "!#$%&'()*+,/:;=?@[]~"


# -- the forms of one secret ---------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    """One way `secret` may be written; `xml_depth` is how many times it was XML-escaped.

    A scrubber of markup writes its marker escaped as many times, so the text stays well-formed
    at every level (an `...AsXml` answer holds escaped XML inside XML).
    """

    text: str
    xml_depth: int


# How writers spell a quote: left as it is (text content; the other quote in an attribute),
# or as a named, decimal or hexadecimal reference (.NET's HtmlEncode: &quot; and &#39;;
# Python's html.escape: &quot; and &#x27;).
_DOUBLE = ('"', "&quot;", "&#34;", "&#x22;")
_SINGLE = ("'", "&apos;", "&#39;", "&#x27;")


def _xml_escapes(text: str) -> set[str]:
    """The ways an XML or HTML writer may have escaped `text`, quotes in any spelling."""
    basic = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {basic.replace('"', d).replace("'", q) for d in _DOUBLE for q in _SINGLE}


def _json_escapes(text: str) -> set[str]:
    out = set()
    for ascii_only in (True, False):
        inner = json.dumps(text, ensure_ascii=ascii_only)[1:-1]
        out |= {inner, inner.replace("/", "\\/")}  # some writers escape "/" too
    return out


def _python_reprs(text: str) -> set[str]:
    # A message or traceback that shows a value with !r: quotes and backslashes escaped,
    # and in ascii() or a bytes repr, every other character too.
    return {repr(text)[1:-1], ascii(text)[1:-1], repr(text.encode("utf-8"))[2:-1]}


def _base64s(text: str) -> set[str]:
    data = [text.encode("utf-8")]
    with contextlib.suppress(UnicodeEncodeError):
        data.append(text.encode("latin-1"))  # what HTTP Basic sends (requests does)
    out = set()
    for raw in data:
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            word = encoded.decode("ascii")
            out |= {word, word.rstrip("=")}
    return out


def _url_escapes(text: str) -> set[str]:
    return {
        quote(text, safe=""),
        quote(text, safe="/"),
        quote_plus(text),
        quote(text, safe=_REQUOTE_SAFE),
    }


@lru_cache(maxsize=256)
def forms(secret: str, username: str | None = None) -> tuple[Form, ...]:
    """Every form of `secret` a scrubber replaces, longest first; none for an empty secret.

    Plain, URL-encoded (quote and quote_plus), JSON-escaped, as Python's repr shows it, and
    base64-encoded (the secret alone and, given `username`, the `username:secret` of HTTP
    Basic), and each of those XML-escaped once and twice.
    """
    if not secret:
        return ()
    first = {secret} | _url_escapes(secret) | _json_escapes(secret) | _base64s(secret)
    first |= _python_reprs(secret)
    if username:
        first |= _base64s(f"{username}:{secret}")
    depth: dict[str, int] = {}
    for text in first:
        depth.setdefault(text, 0)
    for text in first:
        for once in _xml_escapes(text):
            depth.setdefault(once, 1)
    for text in [t for t, d in depth.items() if d == 1]:  # an `...AsXml` string
        for twice in _xml_escapes(text):
            depth.setdefault(twice, 2)
    ordered = sorted(depth.items(), key=lambda item: (-len(item[0]), item[0]))
    return tuple(Form(text, d) for text, d in ordered)


def encodings(secret: str, username: str | None = None) -> list[str]:
    """The texts of `forms(secret, username)`: every way the secret may be written."""
    return [form.text for form in forms(secret, username)]


def _all_forms(secrets: Iterable[str], username: str | None) -> list[Form]:
    by_text: dict[str, Form] = {}
    for secret in set(secrets):
        for form in forms(secret, username):
            kept = by_text.get(form.text)
            if kept is None or form.xml_depth < kept.xml_depth:
                by_text[form.text] = form
    # Longest first across every secret: a password that contains the username goes whole.
    return sorted(by_text.values(), key=lambda f: (-len(f.text), f.text))


# -- scrubbing -----------------------------------------------------------------------------


def _present(lowered: S, candidates: list[Form], key: Callable[[Form], S]) -> list[Form]:
    """Those of `candidates` found in `lowered` (the text lower-cased), longest first.

    Forms are tried by groups sharing their first characters, so a large body is searched a
    few times rather than once per form.
    """
    groups: dict[S, list[Form]] = {}
    for form in candidates:
        groups.setdefault(key(form)[:_PREFIX], []).append(form)
    present = [
        form
        for prefix, group in groups.items()
        if prefix in lowered
        for form in group
        if key(form) in lowered
    ]
    return sorted(present, key=lambda f: (-len(f.text), f.text))


def scrub(text: str, secrets: Iterable[str], *, username: str | None = None) -> str:
    """`text` with every form of every secret (any letter case) replaced by SCRUBBED."""
    lowered = text.lower()
    for form in _present(lowered, _all_forms(secrets, username), _lower):
        if form.text.lower() in lowered:  # not taken by a longer form already
            pattern = re.compile(re.escape(form.text), re.IGNORECASE)
            text = SCRUBBED.join(pattern.split(text))
            lowered = text.lower()
    return text


def _lower(form: Form) -> str:
    return form.text.lower()


def _lower_bytes(form: Form) -> bytes:
    return form.text.encode("utf-8").lower()  # as bytes.lower() lowers: ASCII letters only


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def scrub_bytes(
    body: bytes, secrets: Iterable[str], *, username: str | None = None, markup: bool = False
) -> bytes:
    """`body` with every form of every secret (any ASCII case) replaced, all else untouched.

    In markup the marker is XML-escaped as many times as the form it replaces, so a scrubbed
    document is still well-formed and reads as "<scrubbed>"; otherwise it is written as is.
    """
    marks = [SCRUBBED, _escape(SCRUBBED), _escape(_escape(SCRUBBED))]
    lowered = body.lower()
    for form in _present(lowered, _all_forms(secrets, username), _lower_bytes):
        variant = form.text.encode("utf-8")
        if variant.lower() not in lowered:  # not taken by a longer form already
            continue
        mark = marks[max(form.xml_depth, 1)] if markup else SCRUBBED
        # Split and join rather than re.sub: the replacement is never read as a template.
        pattern = re.compile(re.escape(variant), re.IGNORECASE)
        body = mark.encode("utf-8").join(pattern.split(body))
        lowered = body.lower()
    return body


# -- the secrets this process has read -------------------------------------------------------

_known: dict[tuple[str, str | None], None] = {}
_lock = threading.Lock()


def remember(secret: str, username: str | None = None) -> None:
    """Note a secret this process has read (and the username it goes with), for scrub_known."""
    if secret:
        with _lock:
            _known[(secret, username)] = None


def forget() -> None:
    """Forget every remembered secret (a new command starts, a test ends)."""
    with _lock:
        _known.clear()


def _environment_secrets(environ: Mapping[str, str]) -> list[str]:
    found = [environ.get(name, "").strip() for name in _SECRET_VARIABLES]
    for name in _URL_VARIABLES:
        user, password = url_userinfo(environ.get(name, ""))
        # With a password beside it, a username is a name (scrubbing "bromsync" would garble
        # every BROMSYNC_ variable named); alone in the userinfo, it may well be the token.
        found.append(password if password else user or "")
    return [s for s in found if s]


def scrub_known(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` scrubbed of every secret remembered, and of those the environment holds."""
    with _lock:
        entries = list(_known)
    env = os.environ if environ is None else environ
    entries += [(secret, None) for secret in _environment_secrets(env)]
    for username in {u for _, u in entries}:
        text = scrub(text, [s for s, u in entries if u == username], username=username)
    return text


# -- URLs ------------------------------------------------------------------------------------


def _split_userinfo(url: str) -> tuple[str, str, str] | None:
    """(`scheme://`, the userinfo, `@host...`), or None when the URL has no userinfo."""
    start = url.find("://")
    if start < 0:
        return None
    head, rest = url[: start + 3], url[start + 3 :]
    at = rest.rfind("@")
    if at < 0:
        return None
    return head, rest[:at], rest[at:]


def url_userinfo(url: str) -> tuple[str | None, str | None]:
    """The (username, password) written in `url`, decoded; None for each that is absent."""
    parts = _split_userinfo(url)
    if parts is None:
        return None, None
    user, colon, password = parts[1].partition(":")
    return unquote(user), unquote(password) if colon else None


def hide_userinfo(url: str) -> str:
    """`url` with everything between `scheme://` and its last `@` written as ***, safe to print.

    The whole userinfo goes, not only the password: a token is often pasted as the username
    (`https://TOKEN@host`).
    """
    parts = _split_userinfo(url)
    return url if parts is None else f"{parts[0]}***{parts[2]}"


def url_credentials_problem(
    url: str, *, instead: str, username_instead: str | None = None
) -> str | None:
    """What is wrong with a URL that holds credentials, said without them; else None.

    The words follow the URL's name ("bromcom.url must not hold ..."). `instead` says where
    the password goes; `username_instead` where a username goes, or None when one is allowed
    in the URL (SMTP's `smtp://user@host:port`).
    """
    parts = _split_userinfo(url)
    if parts is None:
        return None
    if ":" in parts[1]:
        what, where = "a password", instead
    elif username_instead is not None:
        what, where = "a username", username_instead
    else:
        return None
    return (
        f"must not hold {what} (it reads {hide_userinfo(url)}): remove what is between "
        f"'://' and '@', and the '@'; {where}"
    )
