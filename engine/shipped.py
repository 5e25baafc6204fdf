"""Where the files shipped beside the engine live: mappings, schemas and check packs.

They are packages installed next to `engine/` (pyproject's package list), so their folders
are siblings of this one, in a checkout and in site-packages alike.
"""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def mappings_dir() -> Path:
    """The folder of the mapping files shipped with bromsync."""
    return _ROOT / "mappings"


def schemas_dir() -> Path:
    """The folder of the JSON Schemas shipped with bromsync."""
    return _ROOT / "schemas"


def checks_dir() -> Path:
    """The folder of the SQL check packs shipped with bromsync."""
    return _ROOT / "checks"
