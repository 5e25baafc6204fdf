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
the manifest anyway, because a fault or a proxy's error page may echo them.
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

__all__ = ["FORMAT", "MANIFEST", "SCRUBBED", "Recorder", "scrub", "scrub_text"]

FORMAT = "bromsync-bromcom-recording/1"
MANIFEST = "manifest.json"
SCRUBBED = "<scrubbed>"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


# -- scrubbing -----------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escaped(text: str) -> set[str]:
    """The ways an XML or HTML writer may have written `text` (quotes are escaped by some)."""
    basic = _escape(text)
    return {
        basic,
        basic.replace('"', "&quot;").replace("'", "&apos;"),
        basic.replace('"', "&#34;").replace("'", "&#39;"),
        basic.replace('"', "&quot;").replace("'", "&#39;"),  # .NET's HtmlEncode
    }


def _secrets(secrets: Iterable[str]) -> list[str]:
    # Longest first, so a password that contains the username is replaced whole.
    return sorted({s for s in secrets if s}, key=len, reverse=True)


def scrub(body: bytes, secrets: Iterable[str], *, markup: bool = True) -> bytes:
    """`body` with every secret replaced by SCRUBBED, all other bytes untouched.

    Secrets are matched ignoring ASCII case (a server may echo a username lower-cased), as
    written raw, XML-escaped, or escaped twice (an `...AsXml` string holds escaped XML). In
    markup the replacement is escaped too, so a scrubbed answer is still well-formed and reads
    as "<scrubbed>"; in plain text it is written as is.
    """
    once_mark = _escape(SCRUBBED) if markup else SCRUBBED
    twice_mark = _escape(once_mark) if markup else SCRUBBED
    for secret in _secrets(secrets):
        once = _escaped(secret)
        twice = {variant for e in once for variant in _escaped(e)}
        # Most escaped first: "a&amp;amp;b" must not be half-replaced as "a&amp;b" first.
        levels = (
            (twice - once - {secret}, twice_mark),
            (once - {secret}, once_mark),
            ({secret}, once_mark),
        )
        for variants, mark in levels:
            replacement = mark.encode("utf-8")
            for variant in sorted(variants, key=len, reverse=True):
                # Split and join rather than re.sub: the replacement is never read as a template.
                pattern = re.compile(re.escape(variant.encode("utf-8")), re.IGNORECASE)
                body = replacement.join(pattern.split(body))
    return body


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (any ASCII case) replaced by SCRUBBED, for the manifest."""
    for secret in _secrets(secrets):
        text = re.sub(re.escape(secret), lambda _: SCRUBBED, text, flags=re.IGNORECASE)
    return text


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

    `secrets` (the username and the password) never reach the disk. `about` holds a few
    plain facts for the manifest's reader (org_id, school, url), scrubbed too.
    """

    def __init__(
        self, folder: Path, secrets: Iterable[str], about: dict[str, Any] | None = None
    ) -> None:
        self.folder = Path(folder)
        self._secrets = _secrets(secrets)
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
        data = scrub(body, self._secrets, markup=_is_markup(content_type, body))
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
        return scrub_text(value, self._secrets) if isinstance(value, str) else value

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
