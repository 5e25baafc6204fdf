"""Today's date, which BROMSYNC_TODAY may replace everywhere (docs/school-file.md)."""

from __future__ import annotations

import datetime as dt
import os

from engine.errors import ConfigError


def today() -> dt.date:
    """The date rules are evaluated on: BROMSYNC_TODAY if set, else the local date."""
    value = os.environ.get("BROMSYNC_TODAY", "").strip()
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"BROMSYNC_TODAY={value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-09-01"
        ) from None
