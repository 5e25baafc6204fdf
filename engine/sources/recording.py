"""Record a source's raw answers to a folder, credentials scrubbed, so a run can be replayed.

A school's real Bromcom answers are the best test case there is: `bromsync plan --record DIR`
keeps every SOAP response body of the run, byte for byte apart from the credentials, and the
Bromcom simulator can serve that folder again (`simulators/bromcom/replay.py`). The folder:

    DIR/<org_id>/manifest.json                       what was asked and how Bromcom answered
    DIR/<org_id>/findEntitiesBySchoolID.xml          one file per (operation, entity, filter)
    DIR/<org_id>/getEntityDataBySchoolID/Students.xml
    DIR/<org_id>/getEntityDataBySchoolID/Students~1a2b3c4d5e.xml   (with an entityFilter)

manifest.json: {"format": FORMAT, "org_id", "school", "url", "calls": [{"operation",
"entityName", "entityFilter", "soap_version", "status", "content_type", "file", "when"}]}.
One entry per (operation, entityName case-insensitively, entityFilter): a retried call keeps
its last answer, and recording into a folder again replaces the calls it repeats and keeps the
others. Requests are never stored; the username and password are scrubbed from the bodies and
the manifest anyway, in every form engine.secrets knows (plain, URL-encoded, XML- or
JSON-escaped, base64, HTTP Basic), because a fault or a proxy's error page may echo them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.files import write_private
from engine.secrets import scrub, scrub_bytes

__all__ = ["FORMAT", "MANIFEST", "Recorder"]

FORMAT = "bromsync-bromcom-recording/1"
MANIFEST = "manifest.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def _is_markup(content_type: str, body: bytes) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return "xml" in media or "html" in media or body.lstrip()[:1] == b"<"


# -- the recorder ----------------------------------------------------------------------------


def _extension(content_type: str, body: bytes) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    if "html" in media:
        return ".html"
    if "xml" in media or body.lstrip()[:1] == b"<":
        return ".xml"
    return ".txt"


def _key(operation: str, entity: str | None, entity_filter: str | None) -> tuple[str, str, str]:
    return operation, (entity or "").lower(), (entity_filter or "").strip()


class Recorder:
    """Saves each answer of one school's run under `folder` (DIR/<org_id>); thread-safe.

    `secrets` (the username and the password) never reach the disk, in any form; `username`
    is the one HTTP Basic would pair them with. `about` holds a few plain facts for the
    manifest's reader (org_id, school, url), scrubbed too.
    """

    def __init__(
        self,
        folder: Path,
        secrets: Iterable[str],
        about: dict[str, Any] | None = None,
        *,
        username: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        self._secrets = tuple(s for s in secrets if s)
        self._username = username
        self._about = {k: self._clean(v) for k, v in (about or {}).items()}
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str, str], dict[str, Any]] = {}
        for call in self._existing_calls():
            self._calls[
                _key(call["operation"], call.get("entityName"), call.get("entityFilter"))
            ] = call

    def record(
        self,
        *,
        operation: str,
        entity: str | None,
        entity_filter: str | None,
        soap_version: str,
        status: int,
        content_type: str,
        body: bytes,
    ) -> Path:
        """Save one answer (replacing an earlier one of the same call); the file written."""
        entity = self._clean(entity) if entity else None
        entity_filter = self._clean(entity_filter) if entity_filter else None
        key = _key(operation, entity, entity_filter)
        relative = self._file_name(key, entity, content_type, body)
        call = {
            "operation": operation,
            "entityName": entity,
            "entityFilter": entity_filter,
            "soap_version": soap_version,
            "status": status,
            "content_type": self._clean(content_type),
            "file": relative,
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        data = scrub_bytes(
            body, self._secrets, username=self._username, markup=_is_markup(content_type, body)
        )
        with self._lock:
            try:
                write_private(self.folder / relative, data)
                previous = self._calls.get(key)
                self._calls[key] = call
                self._write_manifest()
                if previous is not None and previous.get("file") != relative:
                    (self.folder / str(previous["file"])).unlink(missing_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"could not save Bromcom's answer to {self.folder / relative}: "
                    f"{exc.strerror or exc}. Check the folder given to --record: it must be "
                    "writable and have room"
                ) from None
        return self.folder / relative

    def calls(self) -> list[dict[str, Any]]:
        """The manifest's calls as they stand, in the order first recorded."""
        with self._lock:
            return [dict(c) for c in self._calls.values()]

    def _clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return scrub(value, self._secrets, username=self._username)

    def _file_name(
        self, key: tuple[str, str, str], entity: str | None, content_type: str, body: bytes
    ) -> str:
        operation, _, entity_filter = key
        stem = _UNSAFE.sub("_", operation) or "answer"
        if entity or entity_filter:
            name = _UNSAFE.sub("_", entity or "") or "_"
            if entity_filter:
                # The filter is SQL text: a short hash keeps the name safe and distinct.
                name += "~" + hashlib.sha256(entity_filter.encode("utf-8")).hexdigest()[:10]
            stem = f"{stem}/{name}"
        return stem + _extension(content_type, body)

    def _write_manifest(self) -> None:
        manifest = {"format": FORMAT, **self._about, "calls": list(self._calls.values())}
        text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
        write_private(self.folder / MANIFEST, text.encode("utf-8"))

    def _existing_calls(self) -> list[dict[str, Any]]:
        path = self.folder / MANIFEST
        if not path.exists():
            return []
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            calls = manifest["calls"] if manifest.get("format") == FORMAT else None
            if not isinstance(calls, list) or not all(
                isinstance(c, dict) and isinstance(c.get("operation"), str) for c in calls
            ):
                raise ValueError("not a bromsync recording")
        except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
            raise ConfigError(
                f"{path} is not a bromsync recording that can be added to ({exc}): give "
                "--record an empty folder, or one an earlier --record wrote"
            ) from None
        return calls
