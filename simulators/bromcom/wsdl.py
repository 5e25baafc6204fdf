"""The service description: a copy of a real school's WSDL, served with our own address.

The copy (TPReadOnlyDataService.wsdl, of Bromcom's published WSDL, also vendored for the
engine's tests as tests/fixtures/reference/TPReadOnlyDataService.wsdl) keeps every operation and
name of the real service; only the `location` of its soap, soap12 and http addresses is
rewritten per request, as ASP.NET does from the address the client used.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lxml import etree

from .dataset import escape_attr

WSDL_PATH = Path(__file__).with_name("TPReadOnlyDataService.wsdl")
_WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
_ADDRESS = re.compile(r'(<(?:soap|soap12|http):address\s+location=")[^"]*(")')


@lru_cache(maxsize=1)
def wsdl_text() -> str:
    return WSDL_PATH.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def operations() -> frozenset[str]:
    """Every operation name the real service's WSDL declares."""
    tree = etree.fromstring(WSDL_PATH.read_bytes())
    return frozenset(
        op.get("name", "")
        for op in tree.iterfind(f"{{{_WSDL_NS}}}portType/{{{_WSDL_NS}}}operation")
    )


def wsdl_for(url: str) -> bytes:
    """The WSDL with every port address pointing at `url`."""
    location = escape_attr(url)
    return _ADDRESS.sub(lambda m: m.group(1) + location + m.group(2), wsdl_text()).encode("utf-8")
