"""A real SMTP server on 127.0.0.1 for the results-message tests (aiosmtpd), started by the test.

It listens on a port the system picks, keeps every message it is given as the bytes it got
(so a test reads back what went over the wire, parsed with the standard library), and stops
when the `with` block ends.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Self

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message as the server got it: the envelope and the parsed message."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The text of the text/`subtype` part."""
        found = self.message.get_body(preferencelist=(subtype,))
        assert found is not None and found.get_content_subtype() == subtype, subtype
        # SMTP carries lines ended by CRLF; the text as written ends them with LF.
        return str(found.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class _AnyPort(Controller):
    """aiosmtpd's Controller on port 0: the port the system chose is read before first use."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """`with SmtpServer() as smtp:` ... `smtp.url`, `smtp.received`."""

    def __init__(self) -> None:
        self._handler = _Handler()
        self._controller = _AnyPort(self._handler, hostname="127.0.0.1", port=0)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self._controller.port}"

    @property
    def received(self) -> list[Received]:
        return self._handler.received

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
