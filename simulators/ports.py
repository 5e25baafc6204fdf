"""A port a simulator cannot listen on, said plainly rather than as a traceback."""

from __future__ import annotations

import errno


class PortUnavailable(OSError):
    """A simulator cannot listen on the port asked for: it is taken, or not allowed."""

    def __init__(self, port: int, message: str) -> None:
        super().__init__(message)
        self.port = port
        self.message = message

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_bind(cls, exc: OSError, port: int) -> OSError:
        """The error to raise for `exc`, raised binding `port`: a PortUnavailable when the
        port is taken or not allowed, else `exc` itself."""
        if exc.errno == errno.EADDRINUSE:
            return cls(
                port,
                f"port {port} is already in use: choose another with --port, or stop what is "
                "using it",
            )
        if exc.errno == errno.EACCES:
            return cls(
                port,
                f"port {port} may not be used by this user (ports below 1024 need "
                "administrator rights): choose another with --port, e.g. 8700",
            )
        return exc
