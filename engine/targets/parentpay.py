"""The client of the ParentPay People API (docs/parentpay-api.md).

Pushes go in batches of at most 500 operations, each POSTed with a deterministic
Idempotency-Key (`<key_prefix>-<batch index>`): ParentPay answers a repeated key with its
first answer and applies nothing again, so a retry after a dropped connection, or a re-run
after a crash, replays instead of double-applying. A push that was cut off is finished by
pushing the same operations again, skipping the batches already acknowledged: the others keep
their numbers, and so their keys. Only what cannot have been applied is treated as transient
(no answer, 429, 5xx), and retried after waiting as long as ParentPay's `Retry-After` asks, up
to 10 minutes; everything else stops the push at once.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Self
from urllib.parse import urlsplit

import requests

from engine.errors import (
    ConfigError,
    ParentPayAuthError,
    ParentPaySiteNotFound,
    ParentPayUnavailable,
    TargetError,
)
from engine.records import TYPES, OpResult
from engine.secrets import (
    PARENTPAY_TOKEN_ENV,
    PARENTPAY_URL_ENV,
    remember,
    scrub,
    url_credentials_problem,
)
from engine.targets import BatchCallback, PushResult, WaitCallback

URL_ENV = PARENTPAY_URL_ENV
TOKEN_ENV = PARENTPAY_TOKEN_ENV
MAX_BATCH = 500  # docs/parentpay-api.md: more operations in one upload get 413
MAX_RETRY_AFTER = 600.0  # docs/parentpay-api.md: a Retry-After is honoured up to 10 minutes
STATUSES = ("active", "archived", "all")
OPS = ("create", "update", "archive", "restore", "convert", "rekey")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# No answer at all: the request may or may not have reached ParentPay, which is exactly
# what the Idempotency-Key makes safe to retry.
_NO_ANSWER = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _check_base_url(url: str, what: str) -> str:
    url = url.strip().rstrip("/")
    # First, and before any parsing: every message below shows the URL.
    credentials = url_credentials_problem(
        url,
        instead=f"the token goes in {TOKEN_ENV}, never in the URL",
        username_instead=f"ParentPay's People API takes only the token, in {TOKEN_ENV}",
    )
    if credentials:
        raise ConfigError(f"{what} {credentials}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{what}={url!r} is not a web address: set it to the ParentPay People API base "
            "URL, e.g. https://people.parentpay.example"
        )
    if parts.path.rstrip("/").endswith("/v1"):
        raise ConfigError(
            f"{what}={url!r} ends in /v1: set it to the base URL without /v1, "
            f"i.e. {url[: -len('/v1')]!r}"
        )
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        # The bearer token travels in every request; plain http is only for a local simulator.
        raise ConfigError(
            f"{what}={url!r} uses http://, which would send the ParentPay token unencrypted: "
            "use https:// (http:// is accepted only for 127.0.0.1 or localhost)"
        )
    return url


def _unset(env: Mapping[str, str], name: str) -> str:
    return "is not set" if name not in env else "is set but empty"


def _server_message(resp: requests.Response, clean: Callable[[str], str]) -> str:
    """ParentPay's own words about a refused request, whatever shape they came in, `clean`ed
    (of the token) before they are cut short, so no part of a secret is left."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return clean(str(body[key]))
    text = clean(resp.text.strip())
    return text[:300] if text else resp.reason or "no message"


def _retry_after(resp: requests.Response) -> float | None:
    try:
        seconds = float(resp.headers.get("Retry-After", ""))
    except ValueError:
        # docs/parentpay-api.md promises seconds; an HTTP-date falls back to our backoff.
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def duration(seconds: float) -> str:
    """A wait as a person reads it: "42 s", "0.5 s", "10 min", "2 min 30 s"."""
    if seconds < 60:
        return f"{round(seconds, 1):g} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min" + (f" {rest} s" if rest else "")


def _attach(err: TargetError, acknowledged: int, partial: PushResult) -> None:
    # So the caller can keep what ParentPay acknowledged before the failure.
    err.acknowledged_batches = acknowledged
    err.partial = partial


class ParentPayClient:
    """Reads and pushes a site's people over the ParentPay People API."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = MAX_RETRY_AFTER,
        batch_size: int = MAX_BATCH,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token.strip():
            raise ConfigError(f"the ParentPay token is empty: set {TOKEN_ENV}")
        if max_attempts < 1 or not 1 <= batch_size <= MAX_BATCH:
            raise ValueError("max_attempts must be >= 1 and batch_size between 1 and 500")
        self.base_url = _check_base_url(base_url, "the ParentPay URL")
        self._token = token.strip()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.batch_size = batch_size
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {token.strip()}",
                "Accept": "application/json",
                "User-Agent": "bromsync",
            }
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> ParentPayClient:
        """A client configured by BROMSYNC_PARENTPAY_URL and BROMSYNC_PARENTPAY_TOKEN."""
        env = os.environ if environ is None else environ
        url, token = env.get(URL_ENV, "").strip(), env.get(TOKEN_ENV, "").strip()
        problems = []
        if not url:
            problems.append(
                f"the environment variable {URL_ENV} {_unset(env, URL_ENV)}: it must hold the "
                "base URL of the ParentPay People API, without /v1"
            )
        if not token:
            problems.append(
                f"the environment variable {TOKEN_ENV} {_unset(env, TOKEN_ENV)}: it must hold "
                "the bearer token bromsync uses for the ParentPay People API"
            )
        if problems:
            raise ConfigError("; ".join(problems), problems=problems)
        client = cls(_check_base_url(url, URL_ENV), token, **options)
        remember(token)  # so no crash log or message of this process shows it (engine.secrets)
        return client

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------

    def people(
        self,
        site_id: int,
        type: str | None = None,
        status: str = "all",
        *,
        on_wait: WaitCallback | None = None,
    ) -> list[dict[str, Any]]:
        """The site's people records, optionally of one type, in ParentPay's order."""
        if type is not None and type not in TYPES:
            raise ValueError(f"type must be one of {TYPES} or None, not {type!r}")
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        params = {"status": status} | ({"type": type} if type else {})
        resp = self._request(
            "GET", site_id, "people", what="the people list", on_wait=on_wait, params=params
        )
        body = self._json(resp, "the people list")
        people = body.get("people") if isinstance(body, dict) else None
        if not isinstance(people, list) or not all(
            isinstance(p, dict) and isinstance(p.get("mis_id"), str) for p in people
        ):
            raise TargetError(
                f"ParentPay answered the people list of site {site_id} without a list of "
                "people with mis_ids; report this to ParentPay support"
            )
        return people

    # -- pushing -----------------------------------------------------------------------

    def push(
        self,
        site_id: int,
        operations: Sequence[dict[str, Any]],
        key_prefix: str,
        on_batch: BatchCallback | None = None,
        *,
        skip_batches: Collection[int] = (),
        on_wait: WaitCallback | None = None,
    ) -> PushResult:
        """Send `operations` in order, in batches; results indexed as in `operations`.

        Batches are numbered over the whole of `operations`; those in `skip_batches` (already
        acknowledged by ParentPay) are not sent, so finishing a cut-off push sends the rest
        under the keys they had. `on_wait(seconds, why)` is told before each wait to retry.
        A batch that still fails after the retries stops the push; the error carries
        `acknowledged_batches` (sent and answered in this push) and `partial` (their
        PushResult).
        """
        if not key_prefix or not key_prefix.isprintable() or any(c.isspace() for c in key_prefix):
            raise ValueError(
                f"key_prefix must be non-empty printable text without spaces: {key_prefix!r}"
            )
        for i, op in enumerate(operations):
            if (
                op.get("op") not in OPS
                or op.get("type") not in TYPES
                or not isinstance(op.get("mis_id"), str)
            ):
                raise ValueError(f"operation {i} is not a ParentPay operation: {op!r}")
        size = self.batch_size
        batches = [operations[i : i + size] for i in range(0, len(operations), size)]
        skip = set(skip_batches)
        upload_ids: list[str] = []
        results: list[OpResult] = []
        for batch_index, batch in enumerate(batches):
            if batch_index in skip:
                continue
            key = f"{key_prefix}-{batch_index:04d}"
            label = f"batch {batch_index + 1} of {len(batches)} (Idempotency-Key {key})"
            try:
                resp = self._request(
                    "POST",
                    site_id,
                    "uploads",
                    what=label,
                    on_wait=on_wait,
                    json={"operations": list(batch)},
                    headers={"Idempotency-Key": key},
                )
                upload_id, batch_results = self._batch_results(
                    resp, batch, batch_index * size, label, key
                )
            except TargetError as err:
                done = PushResult(tuple(upload_ids), tuple(results))
                if batch_index:  # every earlier batch was acknowledged, now or before
                    err.message += (
                        f". ParentPay acknowledged {batch_index} earlier "
                        f"batch{'es' if batch_index > 1 else ''} "
                        f"({batch_index * size} operations); sending the same operations again "
                        "with the same key prefix is safe: ParentPay applies nothing twice"
                    )
                    err.args = (err.message,)
                _attach(err, len(upload_ids), done)
                raise
            upload_ids.append(upload_id)
            results.extend(batch_results)
            if on_batch is not None:
                on_batch(batch_index, len(batches), batch_results)
        return PushResult(tuple(upload_ids), tuple(results))

    def _batch_results(
        self,
        resp: requests.Response,
        batch: Sequence[dict[str, Any]],
        offset: int,
        label: str,
        key: str,
    ) -> tuple[str, list[OpResult]]:
        body = self._json(resp, label)
        upload_id = body.get("upload_id") if isinstance(body, dict) else None
        answers = body.get("results") if isinstance(body, dict) else None
        if not isinstance(upload_id, str) or not upload_id or not isinstance(answers, list):
            raise TargetError(
                f"ParentPay answered {label} without an upload_id and results; report this to "
                "ParentPay support"
            )
        by_index = {a.get("index"): a for a in answers if isinstance(a, dict)}
        if len(answers) != len(batch) or set(by_index) != set(range(len(batch))):
            raise TargetError(
                f"ParentPay answered {label} with {len(answers)} results for {len(batch)} "
                "operations; report this to ParentPay support"
            )
        out: list[OpResult] = []
        for i, op in enumerate(batch):
            answer = by_index[i]
            expected = {op["mis_id"]}
            if op["op"] == "rekey":
                expected.add((op.get("fields") or {}).get("new_mis_id"))
            if answer.get("mis_id") not in expected or answer.get("status") not in (
                "applied",
                "rejected",
            ):
                # The same key answered for other records: the key was used before for a
                # different upload, so this answer says nothing about what we sent.
                raise TargetError(
                    f"ParentPay's answer to {label} does not match what was sent (operation "
                    f"{offset + i} is for {op['mis_id']!r}, the answer for "
                    f"{answer.get('mis_id')!r} with status {answer.get('status')!r}); the key "
                    "was probably used before for a different upload: plan again"
                )
            out.append(
                {
                    "index": offset + i,
                    "mis_id": answer["mis_id"],
                    "status": answer["status"],
                    "code": answer.get("code"),
                    "message": answer.get("message"),
                    "op": op["op"],
                    "type": op["type"],
                    "upload_id": upload_id,
                    "idempotency_key": key,
                    "operation": dict(op),
                }
            )
        return upload_id, out

    # -- transport ---------------------------------------------------------------------

    def _request(
        self,
        method: str,
        site_id: int,
        endpoint: str,
        *,
        what: str,
        on_wait: WaitCallback | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One call, retried while nothing can have been applied; raises a TargetError."""
        url = f"{self.base_url}/v1/sites/{site_id}/{endpoint}"
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            asked: float | None = None  # ParentPay's Retry-After, in seconds
            try:
                resp = self._session.request(
                    method, url, timeout=self.timeout, allow_redirects=False, **kwargs
                )
            except requests.exceptions.SSLError as exc:
                raise TargetError(
                    f"ParentPay's TLS certificate at {self.base_url} was not accepted "
                    f"({self._said(str(exc))}); check {URL_ENV}"
                ) from exc
            except _NO_ANSWER as exc:
                last = f"no answer ({type(exc).__name__})"
                reason = f"ParentPay did not answer ({type(exc).__name__})"
            else:
                if resp.status_code == 429:
                    last, reason = "busy (429)", "ParentPay is busy (429)"
                elif resp.status_code >= 500:
                    last = f"HTTP {resp.status_code}: {_server_message(resp, self._said)}"
                    reason = f"ParentPay failed (HTTP {resp.status_code})"
                else:
                    self._check_status(resp, site_id, what)
                    return resp
                asked = _retry_after(resp)
            if asked is not None and asked > self.max_retry_after:
                raise ParentPayUnavailable(
                    f"{reason} and asked bromsync to wait {duration(asked)} (Retry-After: "
                    f"{asked:g}) before sending {what} for site {site_id} again: longer than the "
                    f"{duration(self.max_retry_after)} bromsync waits, so nothing more was sent"
                )
            if attempt < self.max_attempts:
                delay = self._delay(attempt, asked)
                if on_wait is not None:
                    how = "as it asks" if asked else "before trying again"
                    on_wait(delay, f"{reason}; waiting {duration(delay)} {how}, then retrying")
                self._sleep(delay)
        raise ParentPayUnavailable(
            f"ParentPay at {self.base_url} did not accept {what} for site {site_id} after "
            f"{self.max_attempts} attempts (last: {last}); try again later, and if it never "
            f"answers check {URL_ENV}"
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after:
            return retry_after  # at most max_retry_after: a longer one stops the push
        # Jitter spreads the retries of schools run in parallel (`run --jobs`).
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _check_status(self, resp: requests.Response, site_id: int, what: str) -> None:
        code = resp.status_code
        if 200 <= code < 300:
            return
        if code == 401:
            raise ParentPayAuthError(
                f"ParentPay refused the token (401) for {what}: check {TOKEN_ENV}"
            )
        if code == 404:
            raise ParentPaySiteNotFound(
                f"ParentPay does not know site {site_id} (404): check school.parentpay_site_id "
                f"in the school file (if every school gets this, check {URL_ENV})"
            )
        if 300 <= code < 400:
            where = resp.headers.get("Location")
            location = repr(None if where is None else self._said(where))
            raise TargetError(
                f"ParentPay redirected {what} to {location}: check "
                f"{URL_ENV} (the base URL of the People API, without /v1)"
            )
        raise TargetError(
            f"ParentPay refused {what} for site {site_id} (HTTP {code}): "
            f"{_server_message(resp, self._said)}"
        )

    def _said(self, text: str) -> str:
        """What ParentPay (or a proxy) said, without the token in any form: an error page may
        echo the request, headers and all."""
        return scrub(text, [self._token])

    def _json(self, resp: requests.Response, what: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise TargetError(
                f"ParentPay's answer to {what} is not JSON ({self._said(resp.text)[:120]!r}); "
                f"check {URL_ENV} points at the People API"
            ) from None
