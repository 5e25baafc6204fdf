"""The variables that say where results messages go (docs/school-file.md, "The environment").

`BROMSYNC_SMTP_URL` is checked by the commands that send results messages (`run` and
`apply`; docs/results.md, "The results message") before anything runs (exit 2), so that a
password written in it is refused rather than kept in a URL that may be printed: the password
belongs in `BROMSYNC_SMTP_PASSWORD`. `smtp_settings` reads all three variables into what the sender
(engine/notify.py) needs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from engine.errors import ConfigError
from engine.secrets import SMTP_PASSWORD_ENV, SMTP_URL_ENV, url_credentials_problem

SMTP_FROM_ENV = "BROMSYNC_SMTP_FROM"
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")

_FORM = (
    "write it as smtp://host:port or smtps://host:port, optionally with the SMTP user "
    f"(smtp://user@host:port); the password goes in {SMTP_PASSWORD_ENV}"
)


def smtp_url(environ: Mapping[str, str] | None = None) -> str | None:
    """BROMSYNC_SMTP_URL, checked; None when it is unset or empty (no message is sent).

    Raises ConfigError for a URL that holds a password, or that is not an SMTP address.
    """
    env = os.environ if environ is None else environ
    url = env.get(SMTP_URL_ENV, "").strip()
    if not url:
        return None
    credentials = url_credentials_problem(
        url, instead=f"the password goes in {SMTP_PASSWORD_ENV}, never in the URL"
    )
    if credentials:
        raise ConfigError(f"{SMTP_URL_ENV} {credentials}")
    # From here the URL holds no password, so it may be shown.
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(
            f"{SMTP_URL_ENV}={url!r} has a port that is not a number: {_FORM}"
        ) from None
    if (
        parts.scheme.lower() not in ("smtp", "smtps")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ConfigError(f"{SMTP_URL_ENV}={url!r} is not an SMTP address: {_FORM}")
    return url


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP server results messages go through, and who they are from."""

    host: str
    port: int
    tls: bool  # smtps://: TLS from the first byte; smtp:// upgrades with STARTTLS when offered
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        """The server as a person may read it: scheme, user, host and port, never a password."""
        user = f"{self.user}@" if self.user else ""
        return f"{'smtps' if self.tls else 'smtp'}://{user}{self.host}:{self.port}"


def smtp_settings(environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """BROMSYNC_SMTP_URL, BROMSYNC_SMTP_PASSWORD and BROMSYNC_SMTP_FROM; None when the URL is
    unset (no message is sent).

    Raises ConfigError (exit 2) naming every problem: the URL's (`smtp_url`), a user without
    a password or a password without a user, and a missing or malformed sender.
    """
    env = os.environ if environ is None else environ
    url = smtp_url(env)
    if url is None:
        return None
    parts = urlsplit(url)
    # The user may be an address (alerts@school.example): the host follows the last "@".
    user = unquote(parts.netloc.rpartition("@")[0]) or None
    password = env.get(SMTP_PASSWORD_ENV) or None
    problems = []
    if user and password is None:
        problems.append(
            f"{SMTP_URL_ENV} names the SMTP user {user!r} but {SMTP_PASSWORD_ENV} is not set: "
            "set it to that user's password"
        )
    if password is not None and not user:
        problems.append(
            f"{SMTP_PASSWORD_ENV} is set but {SMTP_URL_ENV} names no user: write the user in "
            "the URL, e.g. smtp://bromsync@mail.example.org:587"
        )
    sender = env.get(SMTP_FROM_ENV, "").strip()
    if not _ADDRESS.match(sender):
        problems.append(
            f"{SMTP_URL_ENV} is set but {SMTP_FROM_ENV} "
            + (f"({sender!r}) is not an email address" if sender else "is not")
            + ": set it to the address results messages are sent from, e.g. "
            "bromsync@trust.example.org"
        )
    if problems:
        raise ConfigError("; ".join(problems), problems=problems)
    scheme = parts.scheme.lower()
    return SmtpSettings(
        host=str(parts.hostname),
        port=parts.port or DEFAULT_PORTS[scheme],
        tls=scheme == "smtps",
        sender=sender,
        user=user,
        password=password,
    )
