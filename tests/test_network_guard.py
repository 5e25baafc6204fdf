"""The autouse guard in conftest.py really stops traffic that is not loopback."""

from __future__ import annotations

import socket

import pytest


def test_public_address_is_refused() -> None:
    with socket.socket() as s, pytest.raises(AssertionError, match=r"only use 127\.0\.0\.1"):
        s.connect(("192.0.2.1", 443))


def test_public_name_lookup_is_refused() -> None:
    with pytest.raises(AssertionError, match=r"only use 127\.0\.0\.1"):
        socket.getaddrinfo("cloudmis.bromcom.com", 443)


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())
