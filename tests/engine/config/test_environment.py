"""engine/config/environment.py: BROMSYNC_SMTP_URL, checked before a results message is sent."""

from __future__ import annotations

import pytest

from engine.config.environment import smtp_url
from engine.errors import ConfigError


@pytest.mark.parametrize(
    "url",
    [
        "smtp://mail.example:25",
        "smtps://mail.example:465",
        "smtp://alerts@mail.example:587",
        "smtp://alerts@school.example@mail.example:587",  # a username that is an address
        "smtp://[::1]:1025/",
    ],
)
def test_an_smtp_url_without_a_password_is_taken(url: str) -> None:
    assert smtp_url({"BROMSYNC_SMTP_URL": f" {url} "}) == url


def test_no_url_means_no_message() -> None:
    assert smtp_url({}) is None
    assert smtp_url({"BROMSYNC_SMTP_URL": "  "}) is None


@pytest.mark.parametrize(
    "url",
    ["smtp://alerts:pa/ss@mail.example:587", "smtps://alerts:p%40ss@mail.example", "smtp://:pw@h"],
)
def test_a_password_in_the_url_is_refused_without_showing_it(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        smtp_url({"BROMSYNC_SMTP_URL": url})

    message = str(caught.value)
    assert message.startswith("BROMSYNC_SMTP_URL must not hold a password (it reads smtp")
    assert "://***@" in message and "the password goes in BROMSYNC_SMTP_PASSWORD" in message
    assert not any(secret in message for secret in ("pa/ss", "p%40ss", "pw"))
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://mail.example", "is not an SMTP address"),
        ("smtp://mail.example:twenty-five", "port that is not a number"),
        ("smtp://mail.example/inbox", "is not an SMTP address"),
        ("smtp://", "is not an SMTP address"),
    ],
)
def test_a_url_that_is_not_smtp_says_how_to_write_it(url: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said) as caught:
        smtp_url({"BROMSYNC_SMTP_URL": url})
    assert "smtp://host:port" in str(caught.value)
