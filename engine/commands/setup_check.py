"""`bromsync check`: the set-up test a school gets before going live (docs/cli.md, issue 3).

ParentPay's set-up guide ends with an "initial pupil upload" whose answer is either the
results or what to fix (MIS data, permission, credentials). This is that test, done before
anything reaches ParentPay: a checklist, one point per thing a school can get wrong, each
failure saying what to change and where in the words of the Bromcom set-up steps. Nothing is
pushed and the school's real state is never touched (the trial plan uses a throwaway State).

Exit codes: 0 ready to go live, 3 something to fix, 1 the check could not run at all (the URL
does not answer, Bromcom answered something bromsync has no advice for).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from engine import clock
from engine.commands.plan import compute_plan
from engine.config.school import SchoolConfig
from engine.errors import (
    BromcomCredentialsError,
    BromcomDataError,
    BromcomPermissionError,
    BromcomSchoolIdError,
    BromsyncError,
    ConfigError,
    MissingSecretError,
)
from engine.events import ignore
from engine.pipeline import Options, fetch_only, open_run
from engine.pipeline import school_settings as mapping_settings
from engine.plan.guards import consent_guard
from engine.records import PARENTPAY_YEAR_CODES, PLURALS
from engine.report.checklist import (
    TITLES,
    URL_FIX,
    CheckItem,
    SetupCheckResult,
    counted,
    named,
    secret_fix,
    unprefixed,
    year_code_fix,
)
from engine.sources import SOURCES, Source, Table
from engine.sources.catalogue import catalogue
from engine.sources.extract import fetch_entities
from engine.transform.functions import MappingFunctions
from engine.transform.mapping import Mapping, load_mappings
from engine.transform.transform import Transformed, transform

# The entities ParentPay's set-up guide asks a school to tick (steps 6-7; docs/bromcom.md): the
# catalogue's, in alphabetical order as the guide lists them.
GUIDE_ENTITIES = tuple(sorted(catalogue()))

_CODE_ORDER = {code: i for i, code in enumerate(PARENTPAY_YEAR_CODES)}
# What the school can fix (exit 3), as opposed to what stopped the check running (exit 1).
_REFUSALS = (
    BromcomCredentialsError,
    BromcomSchoolIdError,
    BromcomPermissionError,
    BromcomDataError,
)


class _CachedSource:
    """The school's source with each entity fetched once: the points and the trial share it."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.tables: dict[str, Table] = {}  # filled before compute_plan's threads read it
        self._fetched: dict[tuple[str, str], Table] = {}

    def entities(self) -> list[str]:
        return self.source.entities()

    def require(self, entities: Iterable[str]) -> None:
        self.source.require(entities)

    def missing(self, entities: Iterable[str]) -> list[str]:
        # require() names every missing entity at once, with the source's own spelling rules.
        try:
            self.source.require(entities)
        except BromcomPermissionError as exc:
            return list(exc.entities)
        return []

    def close(self) -> None:
        """The check closes the school's source itself, once every point has read it."""

    def fetch(self, entity: str, where: str = "") -> Table:
        # Keyed by the filter too: an entity the mappings fetch in part (fetch_only) is asked
        # for the same rows by the points and by the trial.
        key = (entity, where)
        if key not in self._fetched:
            self._fetched[key] = self.tables[entity] = self.source.fetch(entity, where)
        return self._fetched[key]


def run_setup_check(
    school: SchoolConfig,
    *,
    source_factory: Callable[[SchoolConfig], Source] | None = None,
    today: dt.date | None = None,
) -> SetupCheckResult:
    """Check one loaded school file against Bromcom, point by point; pushes nothing.

    `today` (default clock.today()) dates the year-code and consent points; the trial plan
    takes clock.today() as compute_plan always does. Errors that are not BromsyncErrors are
    bugs and propagate to the CLI's error boundary.
    """
    return _Check(school, today or clock.today()).run(source_factory)


class _Check:
    """One run of the checklist; each method is one or two points, in order."""

    def __init__(self, school: SchoolConfig, today: dt.date) -> None:
        self.school = school
        self.today = today
        self.result = SetupCheckResult(school.name, school.urn, school.path)
        self.fatal = False  # a failure that means the check could not run (exit 1)
        self.mappings: list[Mapping] = []
        self.missing: list[str] = []
        self.tables: dict[str, Table] = {}

    def add(self, name: str, ok: bool | None, detail: str, fix: str | None = None) -> None:
        self.result.items.append(CheckItem(name, TITLES[name], ok, detail, fix))

    def skip_rest(self, why: str) -> None:
        done = {i.name for i in self.result.items}
        for name in TITLES:
            if name not in done:
                self.add(name, None, f"skipped: {why}")

    def run(self, source_factory: Callable[[SchoolConfig], Source] | None) -> SetupCheckResult:
        if self.school_file():
            source = _CachedSource((source_factory or SOURCES["bromcom"])(self.school))
            try:
                if self.connect(source):
                    self.read_and_check(source)
            finally:
                source.source.close()
        failed = any(i.ok is False for i in self.result.items)
        self.result.exit_code = 1 if self.fatal else 3 if failed else 0
        return self.result

    def school_file(self) -> bool:
        """Point 1: load_school has validated the file; its mappings and password remain."""
        s = self.school.bromcom
        try:
            self.mappings = load_mappings(self.school.options)
            s.password()
        except ConfigError as exc:
            secret = isinstance(exc, MissingSecretError)
            self.add("school_file", False, str(exc), secret_fix(self.school) if secret else
                     "run `bromsync validate` on the school file and fix each problem it lists")  # fmt: skip
            self.skip_rest("the school file must be valid and the password variable set first")
            return False
        self.add("school_file", True, f"{self.school.path} is valid; {s.password_env} is set")
        return True

    def connect(self, source: _CachedSource) -> bool:
        """Points 2 and 3: one call to Bromcom proves the URL and the credentials."""
        s = self.school.bromcom
        answered = f"Bromcom answered at {s.url}"
        try:
            permitted = source.entities()
        except (BromcomCredentialsError, BromcomSchoolIdError) as exc:
            # The source's message says what is wrong, then the fix in the set-up steps' words.
            what = (
                "username or password" if isinstance(exc, BromcomCredentialsError) else "MIS OrgID"
            )
            detail, _, fix = unprefixed(exc, self.school).partition(": ")
            self.add("url", True, answered)
            self.add("credentials", False, detail, fix or detail)
            self.skip_rest(f"Bromcom must accept the {what} first")
            return False
        except BromsyncError as exc:
            self.fatal = True
            self.add("url", False, unprefixed(exc, self.school), URL_FIX)
            self.skip_rest("the Bromcom URL must answer first")
            return False
        self.add("url", True, answered)
        self.add("credentials", True, f"user {s.username!r} and MIS OrgID {s.org_id} accepted; "
                 f"{len(permitted)} entities ticked")  # fmt: skip
        return True

    def read_and_check(self, source: _CachedSource) -> None:
        """Points 4-8. Data is read even when entities are missing, so one run names every fix."""
        needed = list(dict.fromkeys(e for m in self.mappings for e in m.entities()))
        self.missing = source.missing(needed)
        self.entities(source, needed)
        try:
            readable = [e for e in needed if e not in self.missing]
            only = fetch_only(self.mappings, self.school)
            fetch_entities(
                source, readable, school=self.school.name, on_event=ignore, jobs=4, only=only
            )
            # An unticked entity reads as no rows: its joined values are null, which the
            # year-code and consent points never use.
            self.tables = {e: source.tables.get(e) or Table(e, {}, []) for e in needed}
            self.year_codes()
            self.consent()
            self.trial(source)
        except BromsyncError as exc:
            # A refusal names its own fix; anything else (a timeout, a fault bromsync has no
            # advice for, a mapping failing on this school's data) means it could not run.
            self.fatal = not isinstance(exc, _REFUSALS)
            fix = ("try again later; if it keeps failing, send this message to bromsync support"
                   if self.fatal else "do what the message says, then run `bromsync check` again")  # fmt: skip
            name = next(n for n in TITLES if n not in {i.name for i in self.result.items})
            self.add(
                name, False, f"reading Bromcom's data failed: {unprefixed(exc, self.school)}", fix
            )
            self.skip_rest("reading Bromcom's data failed")

    def entities(self, source: _CachedSource, needed: list[str]) -> None:
        """Point 4, with the rest of the guide's list as advice that never fails."""
        user, lowered = self.school.bromcom.username, {n.lower() for n in needed}
        extra = [e for e in source.missing(GUIDE_ENTITIES) if e.lower() not in lowered]
        advice = (f" ParentPay's set-up guide also asks to tick {', '.join(extra)}, which this "
                  "school's upload options do not read.") if extra else ""  # fmt: skip
        if not self.missing:
            self.add("entities", True, f"all {len(needed)} needed are ticked.{advice}")
            return
        names = ", ".join(self.missing)
        self.add(
            "entities", False,
            f"not ticked for {user!r}: {names} (needed by the upload options "
            f"{', '.join(self.school.options)}).{advice}",
            f"in Bromcom, open Third Party Access Permissions for the web-service account {user!r} "
            f'(ParentPay\'s set-up guide, steps 6-7: Third-Party Account = "ParentPay"), tick '
            f"{names} under the API entities and save",
        )  # fmt: skip

    def transform(self, mapping: Mapping, consent: bool) -> Transformed:
        functions = MappingFunctions(today=self.today, settings=mapping_settings(self.school))
        return transform(mapping, self.tables, functions=functions, consent_required=consent)

    def year_codes(self) -> None:
        """Points 5 and 6: year codes after year_code_aliases, and the school's UFSM years."""
        pupils = next((m for m in self.mappings if m.type == "pupil"), None)
        if pupils is None or pupils.entity in self.missing:
            ok, why = (True, "the school does not upload pupils") if pupils is None else (
                None, f"skipped: {pupils.entity} must be ticked first")  # fmt: skip
            self.add("year_codes", ok, why)
            self.add("ufsm_years", ok, why)
            return
        # Consent is not applied: a pupil without it today is uploaded once it is ticked.
        records = self.transform(pupils, consent=False).records
        found = Counter(r["fields"].get("year_code") for r in records)
        bad = sorted((code for code in found if code not in _CODE_ORDER), key=_order)
        if bad:
            shown = {c: "(no year group)" if c is None else repr(c) for c in bad}
            people = {r["mis_id"]: r for r in records}
            of = {
                c: [r["mis_id"] for r in records if r["fields"].get("year_code") == c] for c in bad
            }
            listed = "; ".join(
                f"{shown[c]}: {counted(found[c], 'pupil')} ({named(of[c], people, short=True)})"
                for c in bad
            )
            self.add(
                "year_codes", False,
                f"year groups of pupils on roll that are not ParentPay codes (N1, N2, R, 1-14): "
                f"{listed}; these pupils would be held back, and any UFSM pupils among them charged "
                "for meals",
                year_code_fix(bad),
            )  # fmt: skip
        else:
            self.add(
                "year_codes",
                True,
                f"all {counted(len(records), 'pupil')} on roll have ParentPay year codes",
            )
        good = sorted((code for code in found if code in _CODE_ORDER), key=_order)
        seen = "pupils on roll by year code: " + (
            ", ".join(f"{c} {found[c]}" for c in good) or "none"
        )
        ufsm = list(self.school.ufsm_year_codes)
        absent = ", ".join(code for code in ufsm if not found.get(code))
        if absent:
            self.add(
                "ufsm_years", False,
                f"ufsm.year_codes is {', '.join(ufsm)}, but no pupil on roll has year code "
                f"{absent}; {seen}",
                f"if that year group is coded differently in Bromcom, recode it as {absent} "
                "(Reception = R, Year 1 = 1 ...), or its UFSM pupils will be charged for meals; if "
                f"the school has no such year, remove {absent} from ufsm.year_codes in the school file",
            )  # fmt: skip
        else:
            years = ", ".join(ufsm) or "empty (no universal free meals)"
            self.add("ufsm_years", True, f"ufsm.year_codes is {years}; {seen}")

    def consent(self) -> None:
        """Point 7: a consent school where nobody (of a type) has consent uploads nobody."""
        if self.school.lawful_basis != "consent":
            self.add("consent", True, "lawful basis is legitimate interest: every pupil and staff "
                     "record is shared with ParentPay (step 10 of the set-up guide)")  # fmt: skip
            return
        readable = [m for m in self.mappings if m.entity not in self.missing]
        if not readable:
            roots = ", ".join(m.entity for m in self.mappings)
            self.add("consent", None, f"skipped: {roots} must be ticked first")
            return
        counts: dict[str, tuple[int, int]] = {}
        for mapping in readable:
            done = self.transform(mapping, consent=True)
            counts[mapping.type] = (len(done.records), done.no_consent)
        parts = "; ".join(
            f"{PLURALS[t]}: {k} of {k + n} with consent" for t, (k, n) in counts.items()
        )
        if consent_guard(self.school, counts) is None:
            self.add("consent", True, f"lawful basis is consent; {parts} (the others are left "
                     "out until their consent is ticked in Bromcom)")  # fmt: skip
            return
        nobody = ", ".join(PLURALS[t] for t, (kept, none) in counts.items() if kept == 0 and none)
        self.add(
            "consent", False,
            f"lawful basis is consent, and none of the {nobody} has data processing consent "
            f"({parts}), so nothing would be uploaded",
            'in Bromcom, tick "Data processing consent has been granted" on the record of each '
            "person to upload (steps 11-16 of ParentPay's set-up guide); if the school chose "
            "legitimate interest at step 10, set upload.lawful_basis: legitimate_interest in the "
            "school file",
        )  # fmt: skip

    def trial(self, source: _CachedSource) -> None:
        """Point 8: the guide's "initial pupil upload", planned against an empty baseline."""
        options = ("pupils",) if "pupils" in self.school.options else self.school.options
        wanted = {e for m in self.mappings if m.option in options for e in m.entities()}
        blocking = [e for e in self.missing if e in wanted]
        if blocking:
            self.add("trial", None, f"skipped: {', '.join(blocking)} must be ticked first")
            return
        trial_school = dataclasses.replace(self.school, options=options)
        with tempfile.TemporaryDirectory(prefix="bromsync-check-") as tmp:
            settings = Options(Path(tmp), offline=True, source_factory=lambda _: source)
            with open_run(trial_school, settings, "check") as run:
                plan, people = compute_plan(run)
        self.result.trial = plan
        data = plan.data
        ops = {
            op: sum(c[op] for c in data["summary"].values())
            for op in ("create", "update", "archive")
        }
        errors = [c for c in data["checks"] if c["severity"] == "error"]
        left = sum(n for rules in data["left_out"].values() for n in rules.values())
        detail = (f"{ops['create']} to create, {ops['update']} to update, {ops['archive']} to "
                  f"archive; {len(plan.held_back())} held back by checks; {left} "
                  "left out by the upload rules")  # fmt: skip
        if self.school.lawful_basis == "consent":
            detail += f"; {data['excluded']['no_consent']} left out for want of consent"
        for c in data["checks"]:
            if c["severity"] != "error":
                detail += f"; warning {c['name']}: {counted(len(c['records']), 'record')}"
        if data["blocked"]:
            self.add("trial", False, f"{detail}; blocked: {data['blocked_reason']}",
                     "fix the points above, then run the check again")  # fmt: skip
        elif errors:
            # Each held-back record named, with the check and its fix (docs/setup-check.md).
            detail += "".join(
                f"; held back by {c['name']}"
                + (f" ({', '.join(c['details'])})" if c["details"] else "")
                + f": {named(c['records'], people)}"
                for c in errors
            )
            self.add("trial", False, detail, " ".join(
                f"{c['name']}: {c['remediation'].rstrip('.')}." for c in errors))  # fmt: skip
        else:
            self.add("trial", True, detail)


def _order(code: str | None) -> tuple[int, str]:
    return (_CODE_ORDER.get(code or "", len(_CODE_ORDER)), code or "")
