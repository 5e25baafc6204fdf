"""Tokens of an entityFilter, as SQL Server's lexer sees them.

Keywords are case-insensitive; `[bracketed]` and `"quoted"` names may hold any character; a
string literal doubles `'` to hold one, and may carry SQL Server's `N` prefix. A character
that starts no token becomes a "bad" token, which the parser refuses where it stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sqltypes import FilterError

_KEYWORDS = {"and", "or", "not", "like", "in", "is", "null", "between", "escape"}
# Reserved words that can never be a bare column name (a subset of SQL Server's list).
_RESERVED = _KEYWORDS | {
    "select",
    "from",
    "where",
    "order",
    "by",
    "group",
    "having",
    "union",
    "exists",
    "case",
    "when",
    "then",
    "else",
    "end",
    "as",
    "on",
    "join",
    "top",
    "distinct",
    "all",
    "any",
}
_TOKEN = re.compile(
    r"""(?P<ws>\s+|--[^\n]*|/\*.*?\*/)
      | (?P<str>[Nn]?')
      | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<bracket>\[(?:[^\]]|\]\])*\])
      | (?P<quoted>"(?:[^"]|"")*")
      | (?P<ident>[A-Za-z_@#][A-Za-z0-9_@#$]*)
      | (?P<op><>|!=|<=|>=|!<|!>|[=<>(),-])""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # str, num, name, kw, op, bad, eof
    value: str  # the literal's value, the name, the lower-cased keyword or the operator
    text: str  # as written: SQL Server quotes this in its messages


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:  # the parser refuses it where it stands, after any earlier error
            tokens.append(Token("bad", source[pos], source[pos]))
            pos += 1
            continue
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "str":
            pos = m.end()
            chunks: list[str] = []
            while True:
                end = source.find("'", pos)
                if end == -1:
                    rest = "".join(chunks) + source[pos:]
                    raise FilterError(
                        f"Unclosed quotation mark after the character string '{rest}'."
                    )
                chunks.append(source[pos:end])
                if source.startswith("''", end):
                    chunks.append("'")
                    pos = end + 2
                    continue
                pos = end + 1
                break
            value = "".join(chunks)
            tokens.append(Token("str", value, source[m.start() : pos]))
            continue
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "bracket":
            tokens.append(Token("name", text[1:-1].replace("]]", "]"), text))
        elif kind == "quoted":
            tokens.append(Token("name", text[1:-1].replace('""', '"'), text))
        elif kind == "ident":
            low = text.lower()
            if low in _RESERVED:
                tokens.append(Token("kw", low, text))
            else:
                tokens.append(Token("name", text, text))
        else:
            tokens.append(Token(kind, text, text))
    tokens.append(Token("eof", "", ""))
    return tokens
