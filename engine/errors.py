"""Every error bromsync expects, written for the person who has to fix it.

Each class says who must act; `transient` marks what a retry may cure, so retry logic is
one `isinstance`/attribute check. The CLI maps `exit_code` straight to the process exit code
(docs/cli.md): 2 usage or configuration, 1 a school failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes of docs/cli.md; with several schools the worst one wins."""

    OK = 0  # everything in the plan was applied (for plan: the plan was written)
    FAILED = 1  # a school failed: Bromcom, ParentPay or a runtime error
    CONFIG = 2  # usage or configuration error
    INCOMPLETE = 3  # not everything went: blocked, held back or rejected
    INTERRUPTED = 130  # ^C

    @staticmethod
    def worst(codes: Iterable[int]) -> ExitCode:
        """The combined exit code: 2 outranks 1, which outranks 3, which outranks 0."""
        rank = (ExitCode.OK, ExitCode.INCOMPLETE, ExitCode.FAILED, ExitCode.CONFIG)
        worst = ExitCode.OK
        for code in codes:
            known = ExitCode(code) if code in rank else ExitCode.FAILED
            worst = max(worst, known, key=rank.index)
        return worst


class BromsyncError(Exception):
    """Base of every error bromsync raises on purpose."""

    exit_code: ExitCode = ExitCode.FAILED
    transient = False

    def __init__(self, message: str, *, school: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.school = school

    def __str__(self) -> str:
        return self.message


class ConfigError(BromsyncError):
    """A school file, mapping or command-line value is wrong; nothing was run."""

    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, *, problems: list[str] | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.problems = problems or [message]


class MissingSecretError(ConfigError):
    """The environment variable that should hold a password is not set."""


class SourceError(BromsyncError):
    """Reading from the MIS failed; nothing is pushed for that school."""

    # A few words for a retry line ("no answer in 300 s"); None: the class's docstring.
    short: str | None = None


class BromcomUnreachable(SourceError):
    """The Bromcom URL did not answer (DNS, refused, reset, timeout, 502/503/504)."""

    transient = True


class BromcomCredentialsError(SourceError):
    """Bromcom refused the username or password."""


class BromcomSchoolIdError(SourceError):
    """Bromcom does not know the MIS OrgID (schoolID)."""


class BromcomPermissionError(SourceError):
    """An entity bromsync needs is not ticked for the web-service account."""

    def __init__(self, message: str, *, entities: list[str], **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.entities = entities


class BromcomFault(SourceError):
    """Bromcom answered with a SOAP fault bromsync has no specific advice for."""


class BromcomResponseError(SourceError):
    """Bromcom's answer could not be read (truncated, not a DataSet)."""

    transient = True


class BromcomServerError(SourceError):
    """Bromcom's server failed (HTTP 500 with an error page, not a SOAP fault)."""

    transient = True


class BromcomDataError(SourceError):
    """Bromcom sent a value that cannot be read as it stands; it must be corrected in Bromcom."""

    def __init__(self, message: str, *, entity: str | None, rows: list[str], **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.entity = entity
        self.rows = rows  # each bad value's row, as the message names it ("StudentID 1003")


class MappingError(ConfigError):
    """A mapping file is invalid or an expression failed on real data."""


class ColumnsMismatchError(ConfigError):
    """Bromcom's answer lacks a column a mapping reads, or a key column changed its type."""


class StateError(BromsyncError):
    """The DuckDB state of a school cannot be used."""


class PlanError(BromsyncError):
    """A plan file cannot be applied as it stands (stale, edited or unreadable)."""

    exit_code = ExitCode.CONFIG


class BlockedPlanError(PlanError):
    """The plan was blocked by a guard; like a blocked run, nothing went (exit 3)."""

    exit_code = ExitCode.INCOMPLETE


class TargetError(BromsyncError):
    """Pushing to ParentPay failed; what was acknowledged before the failure is kept."""

    acknowledged_batches: int = 0
    partial: object | None = None  # the PushResult of the batches acknowledged before it


class ParentPayUnavailable(TargetError):
    """ParentPay did not answer, was overloaded (429) or failed (5xx)."""

    transient = True


class ParentPayAuthError(TargetError):
    """ParentPay refused the bearer token."""


class ParentPaySiteNotFound(TargetError):
    """ParentPay does not know the school's site id."""


class NotifyError(BromsyncError):
    """A results message could not be sent; the sync it tells of is not affected."""

    transient = True
