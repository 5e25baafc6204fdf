"""The school file (docs/school-file.md), loaded into frozen dataclasses.

`schemas/school.schema.json` says what a school file may hold, and its descriptions are the
words support staff read when something is wrong. What a schema cannot say (a secret under
any key name, credentials inside the URL, "1" and 1 listed twice) is checked here, and every
problem is located as `path:line:col: message` (engine.config.yamlfile).

Decisions the contract leaves open:
- Year codes (ufsm.year_codes, year_code_aliases targets) are ParentPay codes, which are text;
  a bare `1` in YAML is an int, so ints 1-14 are accepted and read as "1"-"14".
- The password is never read here: `BromcomSettings.password()` reads the variable named by
  `password_env` when a command actually needs it, so `validate` works on any machine.
- A non-loopback `bromcom.url` must end in `TPReadOnlyDataService.asmx` and carry no query
  (`?WSDL` is a common paste): the UK cloud and the self-hosted server of the published WSDL
  both serve it at that path (an assumption for other hosts), and saying so here beats "the
  URL does not answer" at `check` time. Loopback URLs (simulators) may use any path.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from engine.config.yamlfile import Locator, Problem, dotted, load_yaml, schema_problems
from engine.errors import ConfigError, MissingSecretError
from engine.secrets import remember, url_credentials_problem
from engine.shipped import schemas_dir

SCHEMA_PATH = schemas_dir() / "school.schema.json"

# Key names that say "a secret is written here". password_env is the one allowed key that
# mentions a password: it holds a variable's name, not the password.
_SECRET_KEY = re.compile(
    r"(^|_)(pass|pas+wo?r?d|pwd|secret|token|api_?key|apikey|private_?key|credentials?)($|_)"
)

_SECRET_ADVICE = (
    "never write a password or other secret in the school file (it is kept in git): the "
    "Bromcom password goes in an environment variable on the machine that runs bromsync, and "
    "bromcom.password_env gives that variable's name, e.g. password_env: BROMCOM_PASSWORD_OAKFIELD"
)


def _close_to_password_env(name: str) -> bool:
    # "pasword_env" is a misspelt password_env, best answered with "did you mean"; "password"
    # alone (ratio 0.8) is a password.
    return difflib.SequenceMatcher(None, name, "password_env").ratio() >= 0.85


@dataclass(frozen=True)
class BromcomSettings:
    url: str
    org_id: int
    username: str
    password_env: str

    def password(self) -> str:
        """The web-service password, read only from the variable the school file names.

        Remembered (engine.secrets) so that no crash log or message of this process shows it.
        """
        value = os.environ.get(self.password_env)
        if value is None or not value.strip():
            if value is None:
                state = "is not set"
            else:
                state = "is set but empty" if not value else "is set but holds only spaces"
            raise MissingSecretError(
                f"the environment variable {self.password_env} {state}: it must hold the "
                f"Bromcom web-service password of user {self.username!r} (bromcom.password_env "
                "in the school file names it)"
            )
        remember(value, self.username)
        return value


@dataclass(frozen=True)
class SchoolConfig:
    path: Path
    name: str
    urn: int
    parentpay_site_id: int
    bromcom: BromcomSettings
    options: tuple[str, ...]  # a non-empty subset of the RecordType options, in file order
    lawful_basis: str  # "legitimate_interest" | "consent"
    ufsm_year_codes: tuple[str, ...]
    staff_id_prefix: str = ""
    include_enrolment_statuses: tuple[str, ...] = ("C", "M")
    year_code_aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    dietary_allow: tuple[str, ...] = ()
    max_archive_percent: float = 10
    max_archive_count: int = 25
    max_blank_percent: float = 10
    max_blank_count: int = 10
    drift: str = "restore"  # "restore" | "report": a field changed in ParentPay since the upload
    # mis_ids whose change of identity (Bromcom reused the ID for someone else, or a real
    # correction of both date of birth and legal surname) a person has confirmed.
    identity_confirmed: tuple[str, ...] = ()
    # `checks:` (docs/school-file.md): a check's severity changed (error, warning, off) by name,
    # and the school's own check packs, resolved against the school file's folder.
    check_severity: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    check_packs: tuple[Path, ...] = ()
    # `timeouts:` seconds to wait for an answer (docs/school-file.md); flags override them.
    bromcom_timeout: float = 300.0
    parentpay_timeout: float = 60.0
    # Who gets the school's results message after each run or apply (docs/results.md), and
    # when: "problems" (something failed, was blocked, held back or rejected) or "always".
    notify_email: tuple[str, ...] = ()
    notify_when: str = "problems"

    def check_settings(self) -> dict[str, Any]:
        """What the school file changes about the checks, as recorded in the plan."""
        return {
            "severity": dict(sorted(self.check_severity.items())),
            "packs": [p.as_posix() for p in self.check_packs],
        }

    def as_dict(self) -> dict[str, Any]:
        """The loaded settings as plain JSON-ready data (for `validate --show`, snapshots)."""
        return {
            "path": str(self.path),
            "name": self.name,
            "urn": self.urn,
            "parentpay_site_id": self.parentpay_site_id,
            "bromcom": {
                "url": self.bromcom.url,
                "org_id": self.bromcom.org_id,
                "username": self.bromcom.username,
                "password_env": self.bromcom.password_env,
            },
            "options": list(self.options),
            "lawful_basis": self.lawful_basis,
            "ufsm_year_codes": list(self.ufsm_year_codes),
            "staff_id_prefix": self.staff_id_prefix,
            "include_enrolment_statuses": list(self.include_enrolment_statuses),
            "year_code_aliases": dict(self.year_code_aliases),
            "dietary_allow": list(self.dietary_allow),
            "max_archive_percent": self.max_archive_percent,
            "max_archive_count": self.max_archive_count,
            "max_blank_percent": self.max_blank_percent,
            "max_blank_count": self.max_blank_count,
            "drift": self.drift,
            "identity_confirmed": list(self.identity_confirmed),
            "checks": self.check_settings(),
            "timeouts": {
                "bromcom_seconds": self.bromcom_timeout,
                "parentpay_seconds": self.parentpay_timeout,
            },
            "notify": {"email": list(self.notify_email), "when": self.notify_when},
        }


@cache
def school_schema() -> dict[str, Any]:
    """The JSON Schema of school files."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def load_school(path: Path) -> SchoolConfig:
    """Load and validate one school file; raises ConfigError listing every problem."""
    config, problems = _read(path)
    if problems or config is None:
        lines = [str(p) for p in problems]
        count = f"{len(lines)} problem{'s' if len(lines) != 1 else ''}"
        raise ConfigError(
            f"the school file {path} has {count} to fix:\n" + "\n".join(lines),
            problems=lines,
            school=str(path),
        )
    return config


def school_problems(path: Path) -> list[Problem]:
    """Every problem in one school file, in file order; never raises for bad content."""
    return _read(path)[1]


def _read(path: Path) -> tuple[SchoolConfig | None, list[Problem]]:
    data, locator, problems = load_yaml(path)
    if data is None and problems:
        return None, problems
    credentials = _url_credentials(data, locator, path)
    secrets = _secret_problems(data, locator, path) + credentials
    taken = {(p.line, p.col) for p in secrets}
    # The secret's own message replaces "unknown key 'password'" (or the URL pattern's "not
    # in the right form") at the same place.
    problems += [
        p
        for p in schema_problems(data, locator, school_schema(), path)
        if (p.line, p.col) not in taken
    ]
    problems += secrets
    if isinstance(data, dict):
        if not credentials:
            problems += _url_problems(data, locator, path)
        problems += _repeated_year_codes(data, locator, path)
        problems += _missing_packs(data, locator, path)
    problems.sort(key=lambda p: (p.line, p.col))
    if problems:
        return None, problems
    return _build(data, path), []


def _secret_problems(
    data: Any, locator: Locator, path: Path, at: tuple[str | int, ...] = ()
) -> list[Problem]:
    out: list[Problem] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = (*at, key)
            name = str(key).lower().replace("-", "_")
            if _SECRET_KEY.search(name) and not _close_to_password_env(name):
                line, col = locator.key(here)
                out.append(
                    Problem(
                        str(path),
                        line,
                        col,
                        f"{dotted(here)}: {_SECRET_ADVICE}",
                    )
                )
            else:
                out += _secret_problems(value, locator, path, here)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            out += _secret_problems(item, locator, path, (*at, i))
    return out


def _url_credentials(data: Any, locator: Locator, path: Path) -> list[Problem]:
    """A username or password inside bromcom.url, said without the password (CONTRACTS 2).

    Checked before the schema, whose pattern would only say "not in the right form", and
    before any parsing: a pasted password may hold any character.
    """
    bromcom = data.get("bromcom") if isinstance(data, dict) else None
    url = bromcom.get("url") if isinstance(bromcom, dict) else None
    if not isinstance(url, str):
        return []
    message = url_credentials_problem(
        url,
        instead="the username goes in bromcom.username and the password in the environment "
        "variable named by bromcom.password_env, never in the school file",
        username_instead="the username goes in bromcom.username",
    )
    if message is None:
        return []
    line, col = locator(("bromcom", "url"))
    return [Problem(str(path), line, col, f"bromcom.url {message}")]


def _url_problems(data: dict[str, Any], locator: Locator, path: Path) -> list[Problem]:
    bromcom = data.get("bromcom")
    url = bromcom.get("url") if isinstance(bromcom, dict) else None
    pattern = school_schema()["properties"]["bromcom"]["properties"]["url"]["pattern"]
    if not isinstance(url, str) or not re.search(pattern, url):
        return []  # the schema has already said what is wrong
    line, col = locator(("bromcom", "url"))

    def problem(message: str) -> list[Problem]:
        return [Problem(str(path), line, col, f"bromcom.url {message}")]

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return problem("is not a valid web address")
    if parts.query or parts.fragment:
        extra = "?" + parts.query if parts.query else "#" + parts.fragment
        return problem(
            f"must end at the service's address: remove '{extra}' "
            "(the URL is the web service itself, not its WSDL page)"
        )
    return []


def _repeated_year_codes(data: dict[str, Any], locator: Locator, path: Path) -> list[Problem]:
    # The schema's uniqueItems tells 1 from "1"; a person does not.
    ufsm = data.get("ufsm")
    codes = ufsm.get("year_codes") if isinstance(ufsm, dict) else None
    if not isinstance(codes, list):
        return []
    seen: set[str] = set()
    out = []
    for i, code in enumerate(codes):
        text = str(code)
        if text in seen and not isinstance(code, bool) and codes.index(code) == i:
            line, col = locator(("ufsm", "year_codes", i))
            out.append(
                Problem(
                    str(path), line, col, f"ufsm.year_codes lists '{text}' more than once; keep one"
                )
            )
        seen.add(text)
    return out


def _missing_packs(data: dict[str, Any], locator: Locator, path: Path) -> list[Problem]:
    """Each `checks.packs` entry that is not a file (paths are relative to the school file)."""
    packs = data.get("checks", {}).get("packs", []) if isinstance(data.get("checks"), dict) else []
    out = []
    for index, pack in enumerate(packs if isinstance(packs, list) else []):
        if isinstance(pack, str) and not (path.parent / pack).is_file():
            line, col = locator(("checks", "packs", index))
            out.append(
                Problem(
                    str(path),
                    line,
                    col,
                    f"checks.packs: there is no check pack {pack!r} beside this school file "
                    f"(looked for {(path.parent / pack).as_posix()}); paths are relative to the "
                    "school file's folder",
                )  # fmt: skip
            )
    return out


def _build(data: dict[str, Any], path: Path) -> SchoolConfig:
    """A valid file's settings; optional keys left out take the dataclass defaults."""
    school, bromcom, upload = data["school"], data["bromcom"], data["upload"]
    optional: dict[str, Any] = {}
    if "staff_id_prefix" in upload:
        optional["staff_id_prefix"] = upload["staff_id_prefix"]
    if "include_enrolment_statuses" in upload:
        optional["include_enrolment_statuses"] = tuple(upload["include_enrolment_statuses"])
    if "year_code_aliases" in data:
        optional["year_code_aliases"] = MappingProxyType(
            {str(k): str(v) for k, v in data["year_code_aliases"].items()}
        )
    if "allow" in data.get("dietary", {}):
        optional["dietary_allow"] = tuple(data["dietary"]["allow"])
    for key in ("max_archive_percent", "max_archive_count", "max_blank_percent", "max_blank_count"):
        if key in data.get("guards", {}):
            optional[key] = data["guards"][key]
    if "drift" in data:
        optional["drift"] = data["drift"]
    if "confirmed" in data.get("identity", {}):
        optional["identity_confirmed"] = tuple(str(m) for m in data["identity"]["confirmed"])
    checks = data.get("checks", {})
    if "severity" in checks:
        # YAML 1.1 reads an unquoted `off` as false: both mean the check is not run.
        severity = {name: "off" if v is False else v for name, v in checks["severity"].items()}
        optional["check_severity"] = MappingProxyType(severity)
    if "packs" in checks:
        optional["check_packs"] = tuple(path.parent / pack for pack in checks["packs"])
    timeouts = data.get("timeouts", {})
    if "bromcom_seconds" in timeouts:
        optional["bromcom_timeout"] = float(timeouts["bromcom_seconds"])
    if "parentpay_seconds" in timeouts:
        optional["parentpay_timeout"] = float(timeouts["parentpay_seconds"])
    notify = data.get("notify", {})
    if "email" in notify:
        optional["notify_email"] = tuple(notify["email"])
    if "when" in notify:
        optional["notify_when"] = notify["when"]
    return SchoolConfig(
        path=path,
        name=school["name"],
        urn=school["urn"],
        parentpay_site_id=school["parentpay_site_id"],
        bromcom=BromcomSettings(
            url=bromcom["url"],
            org_id=bromcom["org_id"],
            username=bromcom["username"],
            password_env=bromcom["password_env"],
        ),
        options=tuple(upload["options"]),
        lawful_basis=upload["lawful_basis"],
        ufsm_year_codes=tuple(str(code) for code in data["ufsm"]["year_codes"]),
        **optional,
    )
