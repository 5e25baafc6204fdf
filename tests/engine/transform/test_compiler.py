"""engine/transform/compiler.py: compiled JMESPath gives what the interpreter gives, always.

Every expression of the shipped mappings is run both ways on every document transform builds
from a generated primary (with its forced oddities), and again on those documents with values
broken at random (None, missing keys, text IDs, empty lists, 0 and 1 for flags); results are
compared by repr (so True and 1 differ) and errors by type and message.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import jmespath
import pytest

from engine.sources import Table
from engine.sources.dataset import read_dataset
from engine.transform import transform as transform_module
from engine.transform.functions import MappingFunctions
from engine.transform.mapping import Expr, load_mappings
from engine.transform.transform import transform
from simulators.bromcom.dataset import dataset
from simulators.bromcom.store import DataStore
from simulators.datagen import generate_school
from tests.conftest import FIXTURE_SETTINGS

TODAY = dt.date(2026, 11, 28)
ORG_ID = 41902
OPTIONS = ("pupils", "staff", "preadmissions")
# Node types the shipped mappings do not use, so that each compiled node is compared too.
EXTRA = (
    "contacts[*].Priority",
    "contacts[].emails[]",
    "contacts[*].emails[*].EmailAddress[]",
    "contacts[1:3]",
    "contacts[::-1][0].Priority",
    "meals[?StartDate < '2026-01-01'].StartDate",
    "contacts[?Priority >= `1`] | length(@)",
    "contacts[?Priority > `1` || Priority <= `0`].Priority",
    "{id: StudentID, name: FirstName, no: `null`}",
    "{id: StudentID}.*",
    "[StudentID, PersonID, missing]",
    "!`0`",
    "!StudentID",
    "StudentID == `1`",
    "StudentID != '1'",
    "sort_by(contacts, &Priority)[0].Priority",
    "max_by(contacts, &Priority).Priority",
    "map(&Priority, contacts)",
    "sum(contacts[*].Priority)",
    "to_number(StudentID)",
    "not_null(PreferredFirstName, FirstName)",
    "length(FirstName)",
    "contains(FirstName, 'a')",
    "join(', ', contacts[*].person.FirstName)",
    "date(StartDate) <= today()",
    "`[1, 2]`[0]",
    "@",
    "person.DataProcessingConsent",
    "abs(StudentID)",
)
EDGES: tuple[Any, ...] = (None, "", "1", 1, 0, True, False, [], {}, "x", 2.5, [None], {"a": 1})


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Table]:
    root = tmp_path_factory.mktemp("compiler") / "bromcom"
    generate_school(root, org_id=ORG_ID, seed=7, size="primary", today=TODAY, username="u",
                    password="p", urn=209902)  # fmt: skip
    store = DataStore(root)
    account = store.account(ORG_ID)
    assert account is not None
    out = {}
    for name in store.permitted(ORG_ID, account):
        entity = store.entity(ORG_ID, name)
        columns, rows = read_dataset(
            ("<r>" + dataset(entity.columns, entity.cells) + "</r>").encode()
        )
        out[name] = Table(name, columns, rows)
    return out


def _outcome(call: Any) -> tuple[str, str]:
    try:
        return "value", repr(call())
    except Exception as exc:  # noqa: BLE001 (what each way raises is what is compared)
        return type(exc).__name__, str(exc)


def same(expr: Expr, doc: Any, functions: MappingFunctions) -> None:
    options = jmespath.Options(custom_functions=functions)
    compiled = _outcome(lambda: expr.run(doc, functions))
    interpreted = _outcome(lambda: expr.search(doc, options))
    assert compiled == interpreted, f"`{expr.source}` on {doc!r}"


def _broken(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of `doc` with a few values (at any depth) replaced by edge values or dropped."""
    out = dict(doc)
    for key in rng.sample(sorted(out), k=min(4, len(out))):
        value = out[key]
        if isinstance(value, list) and value and rng.random() < 0.5:
            out[key] = [_broken(v, rng) if isinstance(v, dict) else v for v in value]
        elif isinstance(value, dict) and rng.random() < 0.5:
            out[key] = _broken(value, rng)
        elif rng.random() < 0.2:
            del out[key]
        elif isinstance(value, int) and not isinstance(value, bool) and rng.random() < 0.5:
            out[key] = str(value)  # a text ID where a number was
        else:
            out[key] = rng.choice(EDGES)
    return out


@pytest.mark.parametrize("lawful_basis", ["legitimate_interest", "consent"])
def test_compiled_equals_interpreted_on_generated_data(
    tables: dict[str, Table], lawful_basis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {**FIXTURE_SETTINGS, "lawful_basis": lawful_basis,
                "dietary_allow": ["Nut Allergy", "asthma", "Egg Allergy"]}  # fmt: skip
    functions = MappingFunctions(today=TODAY, settings=settings)
    mappings = load_mappings(OPTIONS)
    extra = [Expr(source, jmespath.compile(source), "test:1:1") for source in EXTRA]
    # Every expression, of every mapping, also on the documents of the others and broken ones.
    everything = [e for m in mappings for e in _expressions(m)] + extra
    rng = random.Random(2026)
    seen: list[Expr] = []
    docs = 0
    real_search = transform_module._search

    def checked(expr: Expr, doc: Any, fns: MappingFunctions, mis_id: str | None) -> Any:
        nonlocal docs
        seen.append(expr)
        same(expr, doc, fns)
        if rng.random() < 0.2:
            docs += 1
            broken = _broken(doc, rng)
            for other in everything:
                same(other, broken, fns)
                same(other, doc, fns)
        return real_search(expr, doc, fns, mis_id)

    monkeypatch.setattr(transform_module, "_search", checked)
    consent = lawful_basis == "consent"
    records = [
        transform(m, tables, functions=functions, consent_required=consent) for m in mappings
    ]
    assert sum(len(r.records) for r in records) > 200
    assert {id(m.id) for m in mappings} <= {id(e) for e in seen}
    assert docs > 100


def _expressions(mapping: Any) -> list[Expr]:
    out = [mapping.id, *(e for _, e in mapping.lets), *(e for _, e in mapping.include)]
    out += [mapping.consent] if mapping.consent is not None else []
    return out + [e for _, e in mapping.fields]


@pytest.mark.parametrize(
    "value", [*EDGES, {"StudentID": "1001", "contacts": []}, ["a"], "2026-01-01"]
)
def test_compiled_equals_interpreted_on_edge_values(value: Any) -> None:
    functions = MappingFunctions(today=TODAY, settings=FIXTURE_SETTINGS)
    for mapping in load_mappings(OPTIONS):
        for expr in _expressions(mapping):
            same(expr, value, functions)
    for source in EXTRA:
        same(Expr(source, jmespath.compile(source), "test:1:1"), value, functions)


def test_an_unknown_node_type_is_left_to_the_interpreter() -> None:
    from engine.transform.compiler import compile_expression

    functions = MappingFunctions(today=TODAY, settings=FIXTURE_SETTINGS)
    node = {"type": "not_a_node", "children": []}
    with pytest.raises(NotImplementedError, match="not_a_node"):
        compile_expression(node)({}, functions)
