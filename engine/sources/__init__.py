"""Where MIS data comes from: a small Protocol and a registry of the sources bromsync knows.

Bromcom's SOAP service is the only source today; a REST API or a CSV drop would be another
entry in `SOURCES`, and nothing past this package would change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from engine.config.school import SchoolConfig

# A cell of a fetched row: None for a NULL (absent) column; dateTime columns are naive
# datetimes holding the wall-clock time exactly as Bromcom wrote it (its UK offset dropped,
# never converted to UTC: a BST date of birth must stay on its day).
Value = int | float | str | bool | dt.datetime | dt.date | None


@dataclass(frozen=True)
class Table:
    """The rows of one entity as the source returned them, typed from the source's schema."""

    entity: str
    columns: dict[
        str, str
    ]  # column name -> XML Schema type name: int, string, boolean, dateTime...
    rows: list[dict[str, Value]] = field(default_factory=list)
    # The source's answer, digested, when it has one: equal digests mean the same rows.
    digest: str | None = field(default=None, compare=False)


class Source(Protocol):
    """A school's MIS, read-only."""

    def entities(self) -> list[str]:
        """The entity names this account may read, as the source spells them."""
        ...

    def require(self, entities: Iterable[str]) -> None:
        """Raise a permission error naming every one of `entities` the account may not read."""
        ...

    def fetch(self, entity: str, where: str = "") -> Table:
        """All rows of `entity` (resolved case-insensitively), optionally filtered."""
        ...

    def close(self) -> None:
        """Release the connection; the source is not used after."""
        ...


# A factory builds a school's source; keyword options (e.g. record_dir) are source-specific.
SourceFactory = Callable[..., Source]


def _bromcom(school: SchoolConfig, **options: object) -> Source:
    from engine.sources.bromcom import BromcomSource

    return BromcomSource.for_school(school, **options)


SOURCES: dict[str, SourceFactory] = {"bromcom": _bromcom}
