"""Parser for DQDL rulesets (a subset of AWS Glue Data Quality's language, grown rule by rule).

Written from AWS's documentation and the public grammar's structure (see
docs/ARCHITECTURE.md); syntax errors name the line, the column and what was expected, and a rule
type this engine does not implement is rejected at parse time by name, never ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

# Rule types this engine evaluates, with their parameter count and whether a condition is required.
SUPPORTED_RULES: dict[str, tuple[int, bool]] = {
    "IsComplete": (1, False),
    "Completeness": (1, True),
    "ColumnValues": (1, True),
}
# Every rule type of the language, so that a known-but-unimplemented type gets a precise message.
KNOWN_RULES = frozenset(
    {
        "AggregateMatch",
        "AllStatistics",
        "ColumnCorrelation",
        "ColumnCount",
        "ColumnDataType",
        "ColumnExists",
        "ColumnLength",
        "ColumnNamesMatchPattern",
        "ColumnValues",
        "Completeness",
        "CustomSql",
        "DataFreshness",
        "DatasetMatch",
        "DetectAnomalies",
        "DistinctValuesCount",
        "Entropy",
        "FileFreshness",
        "FileMatch",
        "FileSize",
        "FileUniqueness",
        "IsComplete",
        "IsPrimaryKey",
        "IsUnique",
        "Mean",
        "ReferentialIntegrity",
        "RowCount",
        "RowCountMatch",
        "SchemaMatch",
        "StandardDeviation",
        "Sum",
        "UniqueValueRatio",
        "Uniqueness",
        "Variance",
    }
)


class DqdlSyntaxError(ValueError):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Token:
    kind: str  # STRING NUMBER IDENT OP PUNCT EOF
    text: str
    line: int
    column: int


_TOKEN_RE = re.compile(
    r"""
    (?P<WS>[ \t\r\n]+)
  | (?P<COMMENT>\#[^\n]*)
  | (?P<STRING>"(?:[^"\\]|\\.)*")
  | (?P<NUMBER>-?[0-9]+(?:\.[0-9]+)?)
  | (?P<OP>!=|>=|<=|=|>|<)
  | (?P<PUNCT>[\[\](),])
  | (?P<IDENT>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        col = pos - line_start + 1
        if not m:
            raise DqdlSyntaxError(f"unexpected character {text[pos]!r}", line, col)
        kind = m.lastgroup or ""
        chunk = m.group()
        if kind == "STRING" and "\n" in chunk:
            pass  # strings may span lines; positions below account for it
        if kind not in ("WS", "COMMENT"):
            tokens.append(Token(kind, chunk, line, col))
        newlines = chunk.count("\n")
        if newlines:
            line += newlines
            line_start = pos + chunk.rfind("\n") + 1
        pos = m.end()
    tokens.append(Token("EOF", "", line, pos - line_start + 1))
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


# -- model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A condition operand: a number, a string, or one of the keywords NULL / EMPTY / WHITESPACES_ONLY."""

    kind: str  # number | string | keyword
    value: Decimal | str
    text: str  # as the canonical rule string renders it


@dataclass(frozen=True)
class Condition:
    operator: str  # = != > >= < <= between not_between in not_in
    operands: tuple[Literal, ...]

    def render(self) -> str:
        ops = self.operands
        if self.operator == "between":
            return f"between {ops[0].text} and {ops[1].text}"
        if self.operator == "not_between":
            return f"not between {ops[0].text} and {ops[1].text}"
        if self.operator in ("in", "not_in"):
            word = "in" if self.operator == "in" else "not in"
            return f"{word} [{','.join(o.text for o in ops)}]"
        return f"{self.operator} {ops[0].text}"


@dataclass(frozen=True)
class Rule:
    rule_type: str
    parameters: tuple[str, ...]
    condition: Condition | None = None

    def render(self) -> str:
        """The canonical rule string Glue reports in its Rule and row-level columns."""
        parts = [self.rule_type, *[f'"{p}"' for p in self.parameters]]
        if self.condition is not None:
            parts.append(self.condition.render())
        return " ".join(parts)


@dataclass(frozen=True)
class Ruleset:
    rules: tuple[Rule, ...]
    source: str = field(default="", compare=False)


# -- parser -----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text.replace("\r\n", "\n"))
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, expected: str) -> DqdlSyntaxError:
        t = self.tok
        found = "end of input" if t.kind == "EOF" else repr(t.text)
        return DqdlSyntaxError(f"expected {expected}, found {found}", t.line, t.column)

    def take(self, kind: str, text: str | None = None, expected: str | None = None) -> Token:
        t = self.tok
        if t.kind != kind or (text is not None and t.text != text):
            raise self.fail(expected or (repr(text) if text else kind.lower()))
        self.i += 1
        return t

    def at(self, kind: str, *texts: str) -> bool:
        return self.tok.kind == kind and (not texts or self.tok.text in texts)

    def ruleset(self) -> Ruleset:
        self.take("IDENT", "Rules", "'Rules ='")
        self.take("OP", "=", "'='")
        self.take("PUNCT", "[", "'['")
        rules: list[Rule] = []
        if self.at("PUNCT", "]"):
            raise DqdlSyntaxError("no rules provided", self.tok.line, self.tok.column)
        while True:
            rules.append(self.rule())
            if self.at("PUNCT", ","):
                self.i += 1
                continue
            self.take("PUNCT", "]", "',' or ']'")
            break
        self.take("EOF", expected="end of input")
        return Ruleset(tuple(rules))

    def rule(self) -> Rule:
        t = self.take("IDENT", expected="a rule type")
        if t.text not in KNOWN_RULES:
            raise DqdlSyntaxError(f"unknown rule type {t.text!r}", t.line, t.column)
        if t.text not in SUPPORTED_RULES:
            raise DqdlSyntaxError(
                f"rule type {t.text!r} is not supported by this engine yet", t.line, t.column
            )
        n_params, needs_condition = SUPPORTED_RULES[t.text]
        params = []
        for _ in range(n_params):
            if self.at("IDENT", "of"):
                self.i += 1
            p = self.tok
            if p.kind == "STRING":
                params.append(_unquote(p.text))
            elif p.kind == "IDENT":
                params.append(p.text)
            else:
                raise self.fail(f"a column name for {t.text}")
            self.i += 1
        condition = self.condition() if needs_condition else None
        if not needs_condition and (self.at("OP") or self.at("IDENT", "between", "not", "in", "matches")):
            raise DqdlSyntaxError(f"{t.text} takes no condition", self.tok.line, self.tok.column)
        return Rule(t.text, tuple(params), condition)

    def literal(self) -> Literal:
        t = self.tok
        if t.kind == "NUMBER":
            self.i += 1
            return Literal("number", Decimal(t.text), t.text)
        if t.kind == "STRING":
            self.i += 1
            return Literal("string", _unquote(t.text), t.text)
        if (
            t.kind == "IDENT"
            and t.text.upper() in ("NULL", "EMPTY", "WHITESPACES_ONLY")
            and t.text
            in (
                t.text.upper(),
                t.text.lower(),
            )
        ):
            self.i += 1
            return Literal("keyword", t.text.upper(), t.text.upper())
        raise self.fail("a number, a string, NULL, EMPTY or WHITESPACES_ONLY")

    def condition(self) -> Condition:
        if self.at("OP"):
            op = self.take("OP").text
            return Condition(op, (self.literal(),))
        negated = False
        if self.at("IDENT", "not"):
            self.i += 1
            negated = True
        if self.at("IDENT", "between"):
            self.i += 1
            low = self.literal()
            self.take("IDENT", "and", "'and'")
            high = self.literal()
            return Condition("not_between" if negated else "between", (low, high))
        if self.at("IDENT", "in"):
            self.i += 1
            self.take("PUNCT", "[", "'['")
            items = [self.literal()]
            while self.at("PUNCT", ","):
                self.i += 1
                items.append(self.literal())
            self.take("PUNCT", "]", "',' or ']'")
            return Condition("not_in" if negated else "in", tuple(items))
        raise self.fail("a condition (=, !=, >, >=, <, <=, between, not between, in, not in)")


def parse_ruleset(text: str) -> Ruleset:
    """Parse a DQDL document; raises DqdlSyntaxError naming line, column and what was expected."""
    ruleset = _Parser(text).ruleset()
    return Ruleset(ruleset.rules, source=text)
