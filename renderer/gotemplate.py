"""Go ``text/template`` source, read closely enough to evaluate it as CSO does inside Helm.

CSO evaluates values files with a bare ``text/template`` (``missingkey=default``); Helm's
engine uses ``missingkey=zero``. They differ in one place: a chain of fields through a key
that is absent (``.InfraCluster.status.network.id`` when ``status`` is missing) prints
``<no value>`` in CSO, and fails in Helm with "nil pointer evaluating interface {}". So before
Helm sees a values file, every chain of two or more fields is rewritten into sprig's ``dig``,
which stops at an absent key just as CSO does (``.a.b.c`` becomes ``(dig "a" "b" "c" nil .)``)
and fails where CSO fails (a field of ``nil``, of a list or of a string). Nothing else changes:
text outside actions, strings, comments and line numbers stay as they are.

:func:`functions` lists the function names a template calls, so that functions CSO's
slim-sprig does not have can be reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(
    r"[+-]?(?:0[xXoObB][0-9A-Fa-f_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eEpP][+-]?[0-9]+)?|\.[0-9]+)i?"
)
_SPACE = " \t\r\n"
KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
    | {"nil", "true", "false"}
)
TEXT_TEMPLATE_FUNCTIONS = frozenset(
    {"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf"}
    | {"println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"}
)
"""Functions every Go template has."""
_SLIM_SPRIG = """
    add add1 adler32sum ago all any append atoi b32dec b32enc b64dec b64enc base biggest cat
    ceil chunk clean coalesce compact concat contains date dateInZone dateModify deepEqual
    default dict dig dir div duration durationRound empty env expandenv ext fail first
    float64 floor fromJson get getHostByName has hasKey hasPrefix hasSuffix hello htmlDate
    htmlDateInZone indent initial int int64 isAbs join keys kindIs kindOf last list lower
    max maxf min minf mod mul mustAppend mustChunk mustCompact mustDateModify mustFirst
    mustFromJson mustHas mustInitial mustLast mustPrepend mustRegexFind mustRegexFindAll
    mustRegexMatch mustRegexReplaceAll mustRegexReplaceAllLiteral mustRegexSplit mustRest
    mustReverse mustSlice mustToDate mustToJson mustToPrettyJson mustToRawJson mustUniq
    mustWithout nindent now omit osBase osClean osDir osExt osIsAbs pick pluck plural
    prepend quote randInt regexFind regexFindAll regexMatch regexQuoteMeta regexReplaceAll
    regexReplaceAllLiteral regexSplit repeat replace rest reverse round seq set sha1sum
    sha256sum slice sortAlpha split splitList splitn squote sub substr ternary title toDate
    toDecimal toJson toPrettyJson toRawJson toString toStrings trim trimAll trimPrefix
    trimSuffix trimall trunc tuple typeIs typeIsLike typeOf uniq unixEpoch unset until
    untilStep upper urlJoin urlParse values without date_in_zone date_modify must_date_modify
"""
SLIM_SPRIG_FUNCTIONS = frozenset(_SLIM_SPRIG.split())
"""``TxtFuncMap`` of github.com/go-task/slim-sprig at the version CSO pins (52ccab3ef572)."""
CSO_FUNCTIONS = TEXT_TEMPLATE_FUNCTIONS | SLIM_SPRIG_FUNCTIONS
"""Every function a values template may call in CSO."""


@dataclass(frozen=True)
class Action:
    """One ``{{ … }}`` of a template: where its inside starts and ends in the text."""

    start: int
    end: int
    comment: bool


def _skip_quoted(text: str, i: int) -> int:
    """Index after the string, raw string or char literal starting at ``text[i]``."""
    quote = text[i]
    i += 1
    while i < len(text) and text[i] != quote:
        i += 2 if quote != "`" and text[i] == "\\" else 1
    return i + 1


def actions(text: str) -> Iterator[Action]:
    """Every action of a template, comments included, in order."""
    i = 0
    while (open_at := text.find("{{", i)) != -1:
        j = open_at + 2
        if text.startswith("- ", j) or (text.startswith("-", j) and text[j + 1 : j + 2] in _SPACE):
            j += 1
        inner = j
        while j < len(text) and text[j] in _SPACE:
            j += 1
        if text.startswith("/*", j):
            close = text.find("*/", j + 2)
            close = len(text) if close == -1 else close + 2
            end = text.find("}}", close)
            end = len(text) if end == -1 else end
            yield Action(inner, end, True)
            i = end + 2
            continue
        while j < len(text) and not text.startswith("}}", j):
            j = _skip_quoted(text, j) if text[j] in "\"'`" else j + 1
        end = j
        if end > inner and text[end - 1] == "-" and text[end - 2 : end - 1] in _SPACE:
            end -= 1
        yield Action(inner, end, False)
        i = j + 2


@dataclass
class _Token:
    kind: str  # "field", "var", "open", "close", "ident", "other"
    text: str
    start: int
    end: int


def _tokens(body: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c in _SPACE:
            i += 1
            continue
        if c in "\"'`":
            j = _skip_quoted(body, i)
            tokens.append(_Token("other", body[i:j], i, j))
            i = j
            continue
        if c in "()":
            tokens.append(_Token("open" if c == "(" else "close", c, i, i + 1))
            i += 1
            continue
        if c == "$":
            match = _IDENT.match(body, i + 1)
            j = match.end() if match else i + 1
            tokens.append(_Token("var", body[i:j], i, j))
            i = j
            continue
        if c == ".":
            match = _IDENT.match(body, i + 1)
            if match:
                tokens.append(_Token("field", match.group(), i, match.end()))
                i = match.end()
                continue
        number = _NUMBER.match(body, i)
        if number and number.end() > i and (c.isdigit() or c in "+-."):
            tokens.append(_Token("other", number.group(), i, number.end()))
            i = number.end()
            continue
        match = _IDENT.match(body, i)
        if match:
            tokens.append(_Token("ident", match.group(), i, match.end()))
            i = match.end()
            continue
        tokens.append(_Token("other", c, i, i + 1))
        i += 1
    return tokens


def _chains(tokens: list[_Token]) -> Iterator[tuple[int, int, str, list[str]]]:
    """Chains of two or more fields: (start, end, receiver, field names) in the action body.

    A receiver is the dot (``.a.b``), a variable (``$x.a.b``, ``$.a.b``) or a parenthesised
    expression (``(f x).a.b``); the chain's fields follow it without spaces.
    """
    opens: list[int] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "open":
            opens.append(token.start)
        receiver_start = None
        if token.kind == "field":
            receiver_start, receiver, j = token.start, ".", i
        elif token.kind == "var":
            receiver_start, receiver, j = token.start, token.text, i + 1
        elif token.kind == "close" and opens:
            receiver_start = opens.pop()
            receiver, j = "", i + 1
        if receiver_start is None:
            i += 1
            continue
        fields: list[str] = []
        end = tokens[j - 1].end if j > i else token.start
        while j < len(tokens) and tokens[j].kind == "field" and tokens[j].start == end:
            fields.append(tokens[j].text)
            end = tokens[j].end
            j += 1
        if len(fields) >= 2:
            yield receiver_start, end, receiver, fields
            i = j
            continue
        i = max(j, i + 1)


def _rewrite_body(body: str) -> str:
    chains = sorted(_chains(_tokens(body)), key=lambda c: (c[0], -c[1]))
    pieces: list[str] = []
    last = 0
    for start, end, receiver, fields in chains:
        if start < last:
            continue  # inside a chain already rewritten (its receiver is rewritten below)
        target = receiver
        if receiver == "":
            text = body[start:end]
            close = text.rfind(")")
            target = "(" + _rewrite_body(text[1:close]) + ")"
        keys = " ".join(f'"{f}"' for f in fields)
        pieces.append(body[last:start])
        pieces.append(f"(dig {keys} nil {target})")
        last = end
    pieces.append(body[last:])
    return "".join(pieces)


@lru_cache(maxsize=256)
def with_cso_missing_keys(text: str) -> str:
    """``text`` with field chains rewritten so Helm stops at absent keys as CSO does."""
    pieces: list[str] = []
    last = 0
    for action in actions(text):
        if action.comment:
            continue
        pieces.append(text[last : action.start])
        pieces.append(_rewrite_body(text[action.start : action.end]))
        last = action.end
    pieces.append(text[last:])
    return "".join(pieces)


def functions(text: str) -> list[tuple[str, int]]:
    """Function names a template calls, with their 1-based lines, in order."""
    found = []
    for action in actions(text):
        if action.comment:
            continue
        body = text[action.start : action.end]
        for token in _tokens(body):
            if token.kind == "ident" and token.text not in KEYWORDS:
                found.append((token.text, text.count("\n", 0, action.start + token.start) + 1))
    return found
