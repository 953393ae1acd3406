"""Does a Go ``text/template`` parse? A pure-Python check, with the function set CAPI allows.

Cluster API parses a ClusterClass's ``enabledIf`` and ``valueFrom.template`` with
``text/template`` and sprig's hermetic functions; a template that does not parse is rejected
by its webhook. :func:`parse_error` follows Go's lexer and parser (``text/template/parse``)
closely enough to report the same kinds of mistakes: unclosed actions, comments and strings,
unbalanced ``if``/``range``/``with``/``define``/``block`` and ``end``, a misplaced ``else``,
``break`` or ``continue``, an empty pipeline, unbalanced parentheses, undefined variables and
functions that do not exist — or exist only in Helm (``toYaml``, ``include``, …) or are not
hermetic (``now``, ``env``, ``randAlpha``, …). It never evaluates anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from csops.renderer.gotemplate import TEXT_TEMPLATE_FUNCTIONS


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# sprig v3's function map (sprig.GenericFuncMap) minus its non-hermetic functions.
SPRIG_HERMETIC = _words(
    """abbrev abbrevboth add add1 add1f addf adler32sum ago all any append atoi b32dec b32enc
    b64dec b64enc base bcrypt biggest buildCustomCert camelcase cat ceil chunk clean coalesce
    compact concat contains decryptAES deepCopy deepEqual default derivePassword dict dig dir
    div divf duration durationRound empty encryptAES ext fail first float64 floor fromJson genCA
    genCAWithKey genPrivateKey genSelfSignedCert genSelfSignedCertWithKey genSignedCert
    genSignedCertWithKey get has hasKey hasPrefix hasSuffix htpasswd indent initial initials
    int int64 isAbs join kebabcase keys kindIs kindOf last list lower max maxf merge
    mergeOverwrite min minf mod mul mulf mustAppend mustChunk mustCompact mustDateModify
    mustDeepCopy mustFirst mustFromJson mustHas mustInitial mustLast mustMerge
    mustMergeOverwrite mustPrepend mustRegexFind mustRegexFindAll mustRegexMatch
    mustRegexReplaceAll mustRegexReplaceAllLiteral mustRegexSplit mustRest mustReverse
    mustSlice mustToDate mustToJson mustToPrettyJson mustToRawJson mustUniq mustWithout
    must_date_modify nindent nospace omit osBase osClean osDir osExt osIsAbs pick pluck plural
    prepend quote randInt regexFind regexFindAll regexMatch regexQuoteMeta regexReplaceAll
    regexReplaceAllLiteral regexSplit repeat replace rest reverse round semver semverCompare
    seq set sha1sum sha256sum sha512sum shuffle slice snakecase sortAlpha split splitList
    splitn squote sub subf substr swapcase ternary title toDate toDecimal toJson toPrettyJson
    toRawJson toString toStrings trim trimAll trimPrefix trimSuffix trimall trunc tuple typeIs
    typeIsLike typeOf uniq unixEpoch unset until untilStep untitle upper urlJoin urlParse
    uuidv4 values without wrap wrapWith"""
)
CAPI_FUNCTIONS = TEXT_TEMPLATE_FUNCTIONS | SPRIG_HERMETIC

_CONTROL = frozenset({"if", "range", "with", "define", "block"})
_KEYWORDS = frozenset(
    {"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"}
)
_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<variable>\$\w*)
  | (?P<field>(?:\.[A-Za-z_]\w*)+|\.)
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)i?)
  | (?P<ident>[A-Za-z_]\w*)
    """,
    re.VERBOSE,
)
_LEFT_TRIM = re.compile(r"-[ \t\r\n]")
_SPACE = re.compile(r"[ \t\r\n]*")
_CLOSE = re.compile(r"}}|[ \t\r\n]+-}}")


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


class TemplateSyntaxError(ValueError):
    """The first reason Go's ``text/template`` would refuse to parse a template."""


def parse_error(text: str, functions: frozenset[str] = CAPI_FUNCTIONS) -> str | None:
    """``None`` when ``text`` parses as a Go template with ``functions``; else why not."""
    try:
        _Parser(functions).parse(text)
    except TemplateSyntaxError as exc:
        return str(exc)
    return None


def _actions(text: str) -> list[tuple[int, list[_Tok]]]:
    """(line, tokens) of every action, comments dropped; raises on unclosed ones."""
    actions = []
    pos = 0
    while (start := text.find("{{", pos)) >= 0:
        line = text.count("\n", 0, start) + 1
        body_start = start + 2
        if _LEFT_TRIM.match(text, body_start):
            body_start += 1
        stripped = _SPACE.match(text, body_start).end()  # type: ignore[union-attr]
        if text.startswith("/*", stripped):
            close = text.find("*/", stripped + 2)
            if close < 0:
                raise TemplateSyntaxError(f"{line}: unclosed comment")
            after = _SPACE.match(text, close + 2).end()  # type: ignore[union-attr]
            if text.startswith("-}}", after):
                pos = after + 3
            elif text.startswith("}}", after):
                pos = after + 2
            else:
                raise TemplateSyntaxError(f"{line}: comment ends before closing delimiter")
            continue
        tokens, pos = _lex_action(text, body_start, line)
        actions.append((line, tokens))
    return actions


def _lex_action(text: str, pos: int, line: int) -> tuple[list[_Tok], int]:
    tokens: list[_Tok] = []
    while True:
        if pos >= len(text):
            raise TemplateSyntaxError(f"{line}: unclosed action")
        close = _CLOSE.match(text, pos)
        if close is not None:
            return tokens, close.end()
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            if char == '"':
                raise TemplateSyntaxError(f"{line}: unterminated quoted string")
            if char == "`":
                raise TemplateSyntaxError(f"{line}: unterminated raw quoted string")
            if char == "'":
                raise TemplateSyntaxError(f"{line}: unterminated character constant")
            raise TemplateSyntaxError(f"{line}: unrecognized character in action: {char!r}")
        kind = str(match.lastgroup)
        if kind != "space":
            tokens.append(_Tok(kind, match.group()))
        pos = match.end()


class _Parser:
    def __init__(self, functions: frozenset[str]) -> None:
        self.functions = functions
        self.line = 0

    def fail(self, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(f"{self.line}: {message}")

    def parse(self, text: str) -> None:
        stack: list[tuple[str, bool]] = []  # (keyword, else seen)
        scopes: list[set[str]] = [{"$"}]
        for line, tokens in _actions(text):
            self.line = line
            if not tokens:
                raise self.fail("missing value for command")
            head = tokens[0]
            word = head.text if head.kind == "ident" else ""
            if word == "end":
                if len(tokens) > 1:
                    raise self.fail("unexpected token after end")
                if not stack:
                    raise self.fail("unexpected {{end}}")
                stack.pop()
                scopes.pop()
            elif word == "else":
                if not stack or stack[-1][0] not in {"if", "range", "with"} or stack[-1][1]:
                    raise self.fail("unexpected {{else}}")
                rest = tokens[1:]
                chained = rest[:1] and rest[0].text in {"if", "with"}
                if rest and not chained:
                    raise self.fail("unexpected token in {{else}}")
                keyword = stack[-1][0]
                stack[-1] = (keyword, not chained)
                scopes[-1] = set(scopes[-2])
                if chained:
                    self.pipeline(rest[1:], scopes[-1], rest[0].text, decl=True)
            elif word in {"break", "continue"}:
                if len(tokens) > 1:
                    raise self.fail(f"unexpected token after {word}")
                if not any(k == "range" for k, _ in stack):
                    raise self.fail(f"{{{{{word}}}}} outside {{{{range}}}}")
            elif word in _CONTROL:
                scope = set(scopes[-1])
                if word in {"define", "block"}:
                    if word == "define" and stack:
                        raise self.fail("unexpected define in a nested action")
                    if len(tokens) < 2 or tokens[1].kind not in {"string", "raw"}:
                        raise self.fail(f"unexpected name in {word} clause")
                    if word == "define":
                        if len(tokens) > 2:
                            raise self.fail("unexpected token in define clause")
                        scope = {"$"}
                    else:
                        self.pipeline(tokens[2:], scope, word, decl=False)
                        scope = {"$"}
                else:
                    self.pipeline(tokens[1:], scope, word, decl=True)
                stack.append((word, False))
                scopes.append(scope)
            elif word == "template":
                if len(tokens) < 2 or tokens[1].kind not in {"string", "raw"}:
                    raise self.fail("unexpected name in template clause")
                if len(tokens) > 2:
                    self.pipeline(tokens[2:], scopes[-1], "template", decl=False)
            else:
                self.pipeline(tokens, scopes[-1], "command", decl=True)
        if stack:
            raise self.fail(f"unexpected EOF: {{{{{stack[-1][0]}}}}} has no {{{{end}}}}")

    def pipeline(self, tokens: list[_Tok], scope: set[str], context: str, *, decl: bool) -> None:
        """Declarations (``$x :=``, ``$x = ``), then commands separated by ``|``."""
        declared: list[str] = []
        for i, tok in enumerate(tokens):
            if tok.kind in {"declare", "assign"}:
                names = [t for t in tokens[:i] if t.kind != "comma"]
                if not decl or not names or any(t.kind != "variable" for t in names):
                    raise self.fail(f"unexpected {tok.text!r} in {context}")
                if tok.kind == "assign":
                    for name in names:
                        self.variable(name.text, scope)
                declared = [t.text for t in names]
                tokens = tokens[i + 1 :]
                break
        if any(t.kind in {"declare", "assign"} for t in tokens):
            raise self.fail(f"unexpected declaration in {context}")
        if not tokens:
            raise self.fail(f"missing value for {context}")
        self.commands(tokens, scope, context)
        scope.update(declared)

    def commands(self, tokens: list[_Tok], scope: set[str], context: str) -> None:
        depth = 0
        command: list[_Tok] = []
        for tok in [*tokens, _Tok("pipe", "|")]:
            if tok.kind == "lparen":
                depth += 1
            elif tok.kind == "rparen":
                depth -= 1
                if depth < 0:
                    raise self.fail("unexpected right paren")
            if tok.kind == "pipe" and depth == 0:
                if not command:
                    raise self.fail(f"missing value for {context}")
                self.command(command, scope)
                command = []
            else:
                command.append(tok)
        if depth > 0:
            raise self.fail("unclosed left paren")

    def command(self, tokens: list[_Tok], scope: set[str]) -> None:
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind == "lparen":
                depth, j = 1, i + 1
                while depth:
                    depth += {"lparen": 1, "rparen": -1}.get(tokens[j].kind, 0)
                    j += 1
                inner = tokens[i + 1 : j - 1]
                if not inner:
                    raise self.fail("missing value for parenthesized pipeline")
                self.commands(inner, scope, "parenthesized pipeline")
                i = j
                continue
            if tok.kind == "ident":
                if tok.text in _KEYWORDS:
                    raise self.fail(f"unexpected <{tok.text}> in operand")
                if tok.text not in {"true", "false", "nil"} and tok.text not in self.functions:
                    raise self.fail(f'function "{tok.text}" not defined')
            elif tok.kind == "variable":
                self.variable(tok.text, scope)
            elif tok.kind in {"comma", "declare", "assign"}:
                raise self.fail(f"unexpected {tok.text!r} in operand")
            i += 1

    def variable(self, name: str, scope: set[str]) -> None:
        if name not in scope:
            raise self.fail(f'undefined variable "{name}"')
