"""One way to fingerprint JSON-shaped content: the same content always gives the same digest."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def digest(content: Any) -> str:
    """SHA-256 of `content` as canonical JSON (sorted keys, no spaces, UTF-8), in hex."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
