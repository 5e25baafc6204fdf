"""The variables that say where results messages go (docs/school-file.md, "The environment").

Results messages (`notify`) are not sent yet, but `BROMSYNC_SMTP_URL` is checked already, by
the commands that will send them (`run` and `apply`), so that a password written in it is
refused before anything runs (exit 2) rather than kept in a URL that may be printed: the
password belongs in `BROMSYNC_SMTP_PASSWORD`. The sender will read the URL through
`smtp_url`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from engine.errors import ConfigError
from engine.secrets import SMTP_PASSWORD_ENV, SMTP_URL_ENV, url_credentials_problem

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
