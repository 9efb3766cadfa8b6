"""Parser for DQDL, AWS Glue Data Quality's rule language.

Written here from AWS's DQDL reference (docs.aws.amazon.com/glue/latest/dg/dqdl.html) and the
structure of the public grammar (awslabs/dqdl); docs/ARCHITECTURE.md's data-quality contract says
what this engine supports and where it departs. It reads whole documents: ``Metadata``, ``DataSources``,
string constants (``name = "v"`` / ``name = ["a", "b"]``, used as ``$name``), ``DefaultLabels``
and ``Rules``, with ``#`` comments, string escapes, composite rules with and/or and parentheses
(AND binds tighter than OR), ``where "..."``, ``with threshold ...`` and ``labels=[...]``.

A syntax error names the line, the column and what was expected. A rule type this engine does
not evaluate is refused by name with the reason, never skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from moviestream.quality.catalog import (
    ANOMALY_METRICS,
    DATA_TYPES,
    SUPPORTED,
    UNSUPPORTED,
    ConditionKind,
    RuleSpec,
    compared_metric,
)
from moviestream.quality.dynamic import FUNCTIONS, LIST_FUNCTIONS, BinOp, Call, Expr, Neg, Num, is_dynamic
from moviestream.quality.dynamic import evaluate as evaluate_expression
from moviestream.quality.history import series
from moviestream.quality.references import REFERENCE_RULES, ReferenceSyntaxError, aliases_of, check_parameters

KEYWORDS = ("NULL", "EMPTY", "WHITESPACES_ONLY")
_DURATION_HOURS = {"days": Decimal(24), "hours": Decimal(1), "minutes": Decimal(1) / Decimal(60)}
_MAX_LABELS = 10


class DqdlSyntaxError(ValueError):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


# -- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # STRING NUMBER IDENT VAR OP PUNCT EOF
    text: str
    line: int
    column: int


_TOKEN_RE = re.compile(
    r"""
    (?P<WS>[ \t\r\n]+)
  | (?P<COMMENT>\#[^\n]*)
  | (?P<STRING>"(?:[^"\\]|\\.)*")
  | (?P<NUMBER>[0-9]+(?:\.[0-9]+)?)
  | (?P<OP>!=|>=|<=|=|>|<|\+|-|\*|/)
  | (?P<PUNCT>[\[\](),{}:])
  | (?P<VAR>\$[A-Za-z0-9_]+)
  | (?P<IDENT>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        column = pos - line_start + 1
        if not m:
            if text[pos] == '"':
                raise DqdlSyntaxError("unterminated string", line, column)
            raise DqdlSyntaxError(f"unexpected character {text[pos]!r}", line, column)
        kind, chunk = str(m.lastgroup), m.group()  # every alternative is a named group
        if kind not in ("WS", "COMMENT"):
            tokens.append(Token(kind, chunk, line, column))
        if newlines := chunk.count("\n"):  # strings may span lines
            line += newlines
            line_start = pos + chunk.rfind("\n") + 1
        pos = m.end()
    tokens.append(Token("EOF", "", line, pos - line_start + 1))
    return tokens


def _unquote(token_text: str) -> str:
    """A string literal's value: only \\" and \\\\ are escapes (a regex's \\d stays as written)."""
    return re.sub(r'\\(["\\])', r"\1", token_text[1:-1])


def quote(value: str) -> str:
    """A string literal that reads back as ``value`` (a regex's lone backslashes stay as they are)."""
    escaped = re.sub(r'\\(?=["\\]|$)', r"\\\\", value).replace('"', '\\"')
    return f'"{escaped}"'


# -- model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateValue:
    """``now()`` (UTC, to the minute) or a literal date, plus an offset in minutes."""

    base: str  # "now" or an ISO date / timestamp text
    offset_minutes: int = 0


@dataclass(frozen=True)
class Operand:
    kind: str  # number | dynamic (an Expr over earlier runs) | string | keyword | date | duration (hours)
    value: Decimal | str | DateValue | Expr
    text: str  # as the canonical rule string renders it


@dataclass(frozen=True)
class Condition:
    # = != > >= < <= between not_between in not_in matches not_matches; "measure": an analyzer's
    # (no condition: the rule measures its metrics and always passes)
    operator: str
    operands: tuple[Operand, ...]

    @property
    def dynamic(self) -> bool:
        return any(o.kind == "dynamic" for o in self.operands)

    def render(self) -> str:
        ops = self.operands
        match self.operator:
            case "between" | "not_between":
                word = "between" if self.operator == "between" else "not between"
                return f"{word} {ops[0].text} and {ops[1].text}"
            case "in" | "not_in":
                word = "in" if self.operator == "in" else "not in"
                return f"{word} [{','.join(o.text for o in ops)}]"
            case "not_matches":
                return f"not matches {ops[0].text}"
        return f"{self.operator} {ops[0].text}"  # = != > >= < <= matches


@dataclass(frozen=True)
class Rule:
    rule_type: str
    parameters: tuple[str, ...]
    condition: Condition | None = None
    where: str | None = None
    threshold: Condition | None = None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def spec(self) -> RuleSpec:
        return SUPPORTED[self.rule_type]

    @property
    def dynamic(self) -> bool:
        """Whether judging the rule reads earlier runs' metrics."""
        return any(c is not None and c.dynamic for c in (self.condition, self.threshold))

    def leaves(self) -> list[Rule]:
        return [self]

    def render(self) -> str:
        """The canonical rule string Glue reports in its Rule and row-level columns."""
        parts = [self.rule_type, *[quote(p) for p in self.parameters]]
        if self.condition is not None and self.condition is not MEASURE:
            parts.append(self.condition.render())
        if self.where is not None:
            parts.append(f"where {quote(self.where)}")
        if self.threshold is not None:
            parts.append(f"with threshold {self.threshold.render()}")
        return " ".join(parts)


@dataclass(frozen=True)
class Composite:
    operator: str  # "and" | "or"
    children: tuple[Rule | Composite, ...]
    labels: tuple[tuple[str, str], ...] = ()

    def render(self) -> str:
        word = f" {self.operator.upper()} "
        return word.join(f"({c.render()})" for c in self.children)

    def leaves(self) -> list[Rule]:
        out: list[Rule] = []
        for child in self.children:
            out.extend(child.leaves())
        return out


Node = Rule | Composite


def reads_history(node: Node) -> bool:
    """Whether judging the rule reads earlier runs: a dynamic number or DetectAnomalies."""
    return any(leaf.dynamic or leaf.rule_type == "DetectAnomalies" for leaf in node.leaves())


# An analyzer's condition: the rule measures its metrics and always passes.
MEASURE = Condition("measure", ())


def measuring(rule: Rule) -> Rule:
    """The rule as an analyzer: its metrics, no verdict (DetectAnomalies and Analyzers use it)."""
    return Rule(rule.rule_type, rule.parameters, MEASURE, rule.where)


def bind_history(rule: Rule, runs: Sequence[Mapping[str, float]]) -> Rule:
    """The rule with every dynamic number evaluated against the earlier runs (oldest first) of the
    metric it compares: what Glue reports as the EvaluatedRule. Raises DynamicError when an
    expression cannot give a number (an index out of range, a list where a number is needed)."""
    if not rule.dynamic:
        return rule
    metric = compared_metric(rule.rule_type, rule.parameters)
    assert metric is not None, rule.rule_type  # the parser allows dynamic numbers only where one is
    history = series(runs, metric)

    def bind(cond: Condition | None) -> Condition | None:
        if cond is None or not cond.dynamic:
            return cond
        operands = []
        for o in cond.operands:
            if o.kind != "dynamic":
                operands.append(o)
                continue
            value = evaluate_expression(o.value, history)  # type: ignore[arg-type]
            # 12 significant digits: float noise (12 * 0.8 = 9.600000000000001) decides nothing.
            number = Decimal(format(value, ".12g"))
            operands.append(Operand("number", number, format(number.normalize(), "f")))
        return Condition(cond.operator, tuple(operands))

    return replace(rule, condition=bind(rule.condition), threshold=bind(rule.threshold))


@dataclass(frozen=True)
class Ruleset:
    rules: tuple[Node, ...]
    analyzers: tuple[Rule, ...] = ()  # Analyzers = [...]: measured and recorded, never judged
    metadata: tuple[tuple[str, str], ...] = ()
    data_sources: tuple[tuple[str, str | tuple[str, ...]], ...] = ()
    constants: tuple[tuple[str, str | tuple[str, ...]], ...] = ()
    default_labels: tuple[tuple[str, str], ...] = ()
    source: str = field(default="", compare=False)
    # Lint's warnings: "line L, column C: ..." (e.g. mixed + and * without parentheses).
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def reference_aliases(self) -> frozenset[str]:
        """The aliases of the reference datasets the rules compare with."""
        return frozenset(
            alias
            for node in self.rules
            for leaf in node.leaves()
            for alias in aliases_of(leaf.rule_type, leaf.parameters)
        )

    @property
    def dynamic(self) -> bool:
        """Whether judging reads earlier runs (a dynamic rule or DetectAnomalies)."""
        return any(reads_history(node) for node in self.rules)

    def labels_of(self, node: Node) -> dict[str, str]:
        """The rule's labels over the ruleset's defaults (a rule's own value wins)."""
        return dict(self.default_labels) | dict(node.labels)


# -- parser -----------------------------------------------------------------------------------


# How deep brackets (and runs of unary minus) may nest. The parser descends once per level, so
# without a limit a hostile ruleset ends in Python's RecursionError; no real ruleset nests past
# a handful of levels.
MAX_NESTING = 64


def _check_nesting(tokens: list[Token]) -> None:
    depth = minus_run = 0
    for t in tokens:
        if t.kind == "PUNCT" and t.text in "([":
            depth += 1
        elif t.kind == "PUNCT" and t.text in ")]":
            depth -= 1
        minus_run = minus_run + 1 if (t.kind == "OP" and t.text == "-") else 0
        if depth > MAX_NESTING or minus_run > MAX_NESTING:
            raise DqdlSyntaxError(f"nested more than {MAX_NESTING} levels deep", t.line, t.column)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text.replace("\r\n", "\n"))
        _check_nesting(self.tokens)
        self.i = 0
        self.constants: dict[str, str | tuple[str, ...]] = {}
        self.warnings: list[str] = []
        # The rule whose number is being read, if it may be dynamic there (else None).
        self.dynamic_rule: str | None = None
        self.rule_name = ""

    # token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self) -> Token:
        """The token after this one (callers peek only past a token that is not the end)."""
        return self.tokens[self.i + 1]

    def error(self, message: str, token: Token | None = None) -> DqdlSyntaxError:
        t = token or self.tok
        return DqdlSyntaxError(message, t.line, t.column)

    def fail(self, expected: str) -> DqdlSyntaxError:
        t = self.tok
        found = "end of input" if t.kind == "EOF" else repr(t.text)
        return self.error(f"expected {expected}, found {found}")

    def at(self, kind: str, *texts: str) -> bool:
        return self.tok.kind == kind and (not texts or self.tok.text in texts)

    def take(self, kind: str, text: str | None = None, expected: str | None = None) -> Token:
        if not self.at(kind, *([text] if text else [])):
            raise self.fail(expected or (repr(text) if text else kind.lower()))
        self.i += 1
        return self.tokens[self.i - 1]

    def string(self, expected: str) -> str:
        return _unquote(self.take("STRING", expected=expected).text)

    # document
    def document(self) -> Ruleset:
        sections: dict[str, object] = {}
        order = ("Metadata", "DataSources", "constants", "DefaultLabels", "Rules", "Analyzers")
        last = -1
        while not self.at("EOF"):
            name_tok = self.take("IDENT", expected="'Rules = [' or another section")
            name = name_tok.text
            section = name if name in order else "constants"
            if name.lower() == "rules" and name != "Rules":
                raise self.error(f"the rules list must be named 'Rules' (found {name!r})", name_tok)
            rank = order.index(section)
            if rank < last or section in sections:  # (constants, which may repeat, are not kept here)
                raise self.error(f"{name!r} is out of place (order: {', '.join(order)})", name_tok)
            last = rank
            self.take("OP", "=")
            if section == "Metadata":
                sections[section] = self.metadata()
            elif section == "DataSources":
                sections[section] = self.data_sources()
            elif section == "DefaultLabels":
                sections[section] = self.labels_list()
            elif section == "Rules":
                sections[section] = self.rules()
            elif section == "Analyzers":
                sections[section] = self.analyzers()
            else:
                self.constant(name_tok)
        if "Rules" not in sections and "Analyzers" not in sections:
            raise self.fail("'Rules = [' or 'Analyzers = ['")
        return Ruleset(
            rules=sections.get("Rules", ()),  # type: ignore[arg-type]
            analyzers=sections.get("Analyzers", ()),  # type: ignore[arg-type]
            warnings=tuple(self.warnings),
            metadata=sections.get("Metadata", ()),  # type: ignore[arg-type]
            data_sources=sections.get("DataSources", ()),  # type: ignore[arg-type]
            constants=tuple(self.constants.items()),
            default_labels=sections.get("DefaultLabels", ()),  # type: ignore[arg-type]
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        entries = self.mapping()
        for key, value, token in entries:
            if key != "Version":
                raise self.error(f'Metadata accepts only "Version" (found {key!r})', token)
            if not isinstance(value, str):
                raise self.error("Metadata's Version must be a string", token)
        return tuple((k, v) for k, v, _ in entries)  # type: ignore[misc]

    def data_sources(self) -> tuple[tuple[str, str | tuple[str, ...]], ...]:
        entries = self.mapping()
        for key, value, token in entries:
            if key == "Primary" and not isinstance(value, str):
                raise self.error("DataSources' Primary must be a string", token)
            elif key == "AdditionalDataSources" and not isinstance(value, tuple):
                raise self.error("DataSources' AdditionalDataSources must be a list", token)
            elif key not in ("Primary", "AdditionalDataSources"):
                raise self.error(
                    f"DataSources accepts Primary and AdditionalDataSources (found {key!r})", token
                )
        return tuple((k, v) for k, v, _ in entries)

    def mapping(self) -> list[tuple[str, str | tuple[str, ...], Token]]:
        self.take("PUNCT", "{")
        entries = []
        while True:
            key_tok = self.tok
            key = self.string("a quoted key")
            self.take("PUNCT", ":")
            entries.append((key, self.string_or_list(), key_tok))
            if self.at("PUNCT", ","):
                self.i += 1
                continue
            self.take("PUNCT", "}", "',' or '}'")
            return entries

    def string_or_list(self) -> str | tuple[str, ...]:
        if self.at("PUNCT", "["):
            self.i += 1
            items = [self.string("a string")]
            while self.at("PUNCT", ","):
                self.i += 1
                items.append(self.string("a string"))
            self.take("PUNCT", "]", "',' or ']'")
            return tuple(items)
        if self.at("NUMBER") or self.at("OP", "-"):
            raise self.error("numeric constants are not supported (only strings and lists of strings)")
        return self.string("a string or a list of strings")

    def constant(self, name_tok: Token) -> None:
        name = name_tok.text
        if name.startswith((".", "_")):
            raise self.error(f"constant names may not start with '.' or '_' ({name!r})", name_tok)
        if name in SUPPORTED or name in UNSUPPORTED:
            raise self.error(f"{name!r} is a rule type, not a constant name", name_tok)
        if name in self.constants:
            raise self.error(f"constant {name!r} is defined twice", name_tok)
        self.constants[name] = self.string_or_list()

    def labels_list(self) -> tuple[tuple[str, str], ...]:
        start = self.take("PUNCT", "[")
        labels: dict[str, str] = {}
        while True:
            key_tok = self.tok
            key = self.string("a quoted label key")
            self.take("OP", "=")
            value = self.string("a quoted label value")
            if not key or len(key) > 128:
                raise self.error("a label key must have 1 to 128 characters", key_tok)
            if len(value) > 256:
                raise self.error("a label value may have at most 256 characters", key_tok)
            labels[key] = value
            if self.at("PUNCT", ","):
                self.i += 1
                continue
            self.take("PUNCT", "]", "',' or ']'")
            break
        if len(labels) > _MAX_LABELS:
            raise self.error(f"at most {_MAX_LABELS} labels per rule", start)
        return tuple(labels.items())

    def rules(self) -> tuple[Node, ...]:
        self.take("PUNCT", "[")
        if self.at("PUNCT", "]"):
            raise self.error("no rules provided: the Rules list is empty")
        rules = [self.or_expr()]
        while self.at("PUNCT", ","):
            comma = self.take("PUNCT")
            if self.at("PUNCT", "]"):
                raise self.error("a trailing ',' after the last rule", comma)
            rules.append(self.or_expr())
        self.take("PUNCT", "]", "',' or ']'")
        return tuple(rules)

    def analyzers(self) -> tuple[Rule, ...]:
        """``Analyzers = [RowCount, Completeness "c", AllStatistics "c"]``: rules that measure a
        metric, with no condition; AllStatistics only here."""
        self.take("PUNCT", "[")
        if self.at("PUNCT", "]"):
            raise self.error("no analyzers provided: the Analyzers list is empty")
        analyzers = []
        while True:
            t = self.take("IDENT", expected="an analyzer (a rule type without a condition)")
            spec = SUPPORTED.get(t.text)
            if spec is None or not (spec.measurable or spec.name == "AllStatistics"):
                measurable = sorted(k for k, v in SUPPORTED.items() if v.measurable)
                raise self.error(
                    f"{t.text!r} cannot be an analyzer: one of AllStatistics, {', '.join(measurable)}", t
                )
            params = self.parameters(spec)
            if self.at("OP") or self.at("IDENT", "between", "in", "not", "matches"):
                raise self.error(f"an analyzer takes no condition: {t.text} measures, it does not judge")
            where = None
            if self.at("IDENT", "where"):
                where_tok = self.take("IDENT")
                if not spec.where:
                    raise self.error(f"{t.text} does not support a where clause", where_tok)
                where = self.string("a quoted where clause")
            analyzers.append(Rule(t.text, params, MEASURE, where))
            if self.at("PUNCT", ","):
                self.i += 1
                continue
            self.take("PUNCT", "]", "',' or ']'")
            return tuple(analyzers)

    # composite rules: OR of ANDs of primaries
    def or_expr(self) -> Node:
        return self._chain("or", self.and_expr)

    def and_expr(self) -> Node:
        return self._chain("and", self.primary)

    def _chain(self, word: str, operand) -> Node:  # a bound parser method
        nodes = [operand()]
        while self.at("IDENT", word, word.upper()):
            self.i += 1
            nodes.append(operand())
        if len(nodes) == 1:
            return nodes[0]
        flat: list[Node] = []
        for n in nodes:  # (A and B) and C is rendered and judged as A and B and C
            same = isinstance(n, Composite) and n.operator == word and not n.labels
            flat.extend(n.children if same else [n])
        return Composite(word, tuple(flat))

    def primary(self) -> Node:
        if self.at("PUNCT", "("):
            self.i += 1
            node = self.or_expr()
            self.take("PUNCT", ")")
            if self.at("IDENT", "labels"):
                return replace(node, labels=node.labels + self.rule_labels())
            return node
        return self.rule()

    def rule_labels(self) -> tuple[tuple[str, str], ...]:
        self.i += 1  # 'labels': the callers looked
        self.take("OP", "=")
        return self.labels_list()

    # one rule
    def rule(self) -> Rule:
        t = self.take("IDENT", expected="a rule type or '('")
        name = t.text
        if name in UNSUPPORTED:
            raise self.error(f"rule type {name!r} is not supported by this engine: {UNSUPPORTED[name]}", t)
        if name == "AllStatistics":
            raise self.error("AllStatistics is an analyzer: list it in 'Analyzers = [...]', not in Rules", t)
        spec = SUPPORTED.get(name)
        if spec is None:
            close = [k for k in SUPPORTED if k.lower() == name.lower()]
            hint = f" (rule types are case-sensitive: did you mean {close[0]!r}?)" if close else ""
            raise self.error(f"unknown rule type {name!r}{hint}", t)
        params = self.parameters(spec)
        if name == "DetectAnomalies":
            self.anomaly_target(params, t)
        if name in REFERENCE_RULES:
            try:
                check_parameters(name, params)
            except ReferenceSyntaxError as exc:
                raise self.error(str(exc), t) from None
        self.rule_name = name
        # ColumnDataType's condition is a type name: its threshold is where a dynamic number goes.
        self.dynamic_rule = name if spec.dynamic else None
        condition = self.rule_condition(spec, t)
        where = None
        labels: tuple[tuple[str, str], ...] = ()
        threshold = None
        if self.at("IDENT", "where"):
            where_tok = self.tok
            if not spec.where:
                raise self.error(f"{name} does not support a where clause", where_tok)
            self.i += 1
            where = self.string("a quoted where clause")
            if not where.strip():
                raise self.error("the where clause is empty", where_tok)
        if self.at("IDENT", "labels"):
            labels = self.rule_labels()
        while self.at("IDENT", "with"):
            with_tok = self.tok
            self.i += 1
            tag = self.take("IDENT", expected="'threshold'")
            if tag.text != "threshold":
                raise self.error(f"unknown tag 'with {tag.text}' (only 'with threshold' is supported)", tag)
            if not spec.threshold:
                raise self.error(f"{name} does not support 'with threshold'", with_tok)
            if threshold is not None:
                raise self.error("only one threshold per rule", with_tok)
            threshold = self.condition(ConditionKind.NUMBER)
        if self.at("IDENT", "labels"):  # AWS's examples also put labels after the threshold
            if labels:
                raise self.error("labels are given twice")
            labels = self.rule_labels()
        self.dynamic_rule = None
        return Rule(name, params, condition, where, threshold, labels)

    def anomaly_target(self, params: tuple[str, ...], rule_tok: Token) -> None:
        """DetectAnomalies names a metric the spec lists, with that rule's parameters."""
        target = ANOMALY_METRICS.get(params[0])
        if target is None:
            raise self.error(
                f"DetectAnomalies cannot watch {params[0]!r}: one of {', '.join(sorted(ANOMALY_METRICS))}",
                rule_tok,
            )
        spec = SUPPORTED[target]
        given = len(params) - 1
        if given < spec.min_params or (spec.max_params is not None and given > spec.max_params):
            want = (
                str(spec.min_params) if spec.max_params == spec.min_params else f"at least {spec.min_params}"
            )
            raise self.error(
                f'DetectAnomalies "{params[0]}" takes {want} parameter(s) after the metric name, not {given}',
                rule_tok,
            )

    def parameters(self, spec: RuleSpec) -> tuple[str, ...]:
        params: list[str] = []
        while spec.max_params is None or len(params) < spec.max_params:
            start = self.i
            # Connector words: Completeness of "c", ColumnCorrelation "a" and "b".
            if self.at("IDENT", "of") or (self.at("IDENT", "and") and self.peek().kind in ("STRING", "VAR")):
                self.i += 1
            if self.at("STRING"):
                params.append(_unquote(self.tok.text))
            elif self.at("VAR"):
                value = self.variable(self.tok)
                if not isinstance(value, str):
                    raise self.error(f"{self.tok.text} is a list; a parameter must be a string")
                params.append(value)
            elif self.at("IDENT") and len(params) < spec.min_params and self.tok.text not in _RESERVED:
                params.append(self.tok.text)  # a bare column name
            else:
                self.i = start
                break
            self.i += 1
        if len(params) < spec.min_params:
            what = "column name" if spec.name != "CustomSql" else "SQL statement"
            if spec.name == "ColumnNamesMatchPattern":
                what = "pattern"
            raise self.fail(f"a quoted {what} for {spec.name}")
        return tuple(params)

    def variable(self, token: Token) -> str | tuple[str, ...]:
        name = token.text[1:]
        if name not in self.constants:
            raise self.error(f"undefined constant ${name} (define it before Rules)", token)
        return self.constants[name]

    def rule_condition(self, spec: RuleSpec, rule_tok: Token) -> Condition | None:
        starts = self.at("OP", "=", "!=", ">", ">=", "<", "<=") or self.at(
            "IDENT", "between", "not", "in", "matches"
        )
        kind = spec.condition
        if kind is ConditionKind.NONE:
            if starts:
                raise self.error(f"{spec.name} takes no condition")
            return None
        if kind is ConditionKind.OPTIONAL_NUMBER:
            return self.condition(ConditionKind.NUMBER) if starts else None
        if not starts:
            raise self.fail(f"a condition for {spec.name} (=, !=, >, >=, <, <=, between, in, ...)")
        return self.condition(kind)

    def condition(self, kind: ConditionKind) -> Condition:
        if self.at("OP", "=", "!=", ">", ">=", "<", "<="):
            op_tok = self.take("OP")
            if kind is ConditionKind.TYPE_NAME and op_tok.text not in ("=", "!="):
                raise self.error("ColumnDataType takes =, != or in", op_tok)
            return Condition(op_tok.text, (self.operand(kind),))
        negated = self.at("IDENT", "not")
        if negated:
            self.i += 1
        prefix = "not_" if negated else ""
        if self.at("IDENT", "between") and kind is not ConditionKind.TYPE_NAME:
            self.i += 1
            low = self.operand(kind)
            self.take("IDENT", "and")
            high = self.operand(kind)
            return Condition(prefix + "between", (low, high))
        if self.at("IDENT", "in"):
            self.i += 1
            if self.at("VAR"):
                value = self.variable(self.tok)
                items = (value,) if isinstance(value, str) else value
                self.i += 1
                return Condition(prefix + "in", tuple(Operand("string", v, quote(v)) for v in items))
            self.take("PUNCT", "[")
            items_ops = [self.operand(kind)]
            while self.at("PUNCT", ","):
                self.i += 1
                items_ops.append(self.operand(kind))
            self.take("PUNCT", "]", "',' or ']'")
            return Condition(prefix + "in", tuple(items_ops))
        if self.at("IDENT", "matches") and kind is ConditionKind.VALUE:
            self.i += 1
            pattern_tok = self.tok
            pattern = self.string("a quoted regular expression")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.error(f"invalid regular expression: {exc}", pattern_tok) from None
            return Condition(prefix + "matches", (Operand("string", pattern, pattern_tok.text),))
        if negated:  # what 'not' may precede
            expected = {ConditionKind.TYPE_NAME: "in", ConditionKind.VALUE: "between, in or matches"}.get(
                kind, "between or in"
            )
            raise self.fail(f"{expected} after 'not'")
        # (a value condition cannot get here: rule_condition saw one of its openings)
        raise self.fail("=, != or in" if kind is ConditionKind.TYPE_NAME else "a comparison, between or in")

    def var_operand(self, single: bool) -> Operand:
        value = self.variable(self.tok)
        if single and not isinstance(value, str):
            raise self.error(f"{self.tok.text} is a list; use 'in {self.tok.text}'")
        self.i += 1
        return Operand("string", value, quote(value))  # type: ignore[arg-type]

    def operand(self, kind: ConditionKind) -> Operand:
        t = self.tok
        if kind is ConditionKind.DURATION:
            hours, text = self.duration()
            return Operand("duration", hours, text)
        if kind is ConditionKind.TYPE_NAME:
            name = self.string("a quoted type name")
            if name.upper() not in DATA_TYPES:
                raise self.error(f"unknown data type {name!r} (one of {', '.join(DATA_TYPES)})", t)
            return Operand("string", name, quote(name))
        if kind is ConditionKind.VALUE:
            if t.kind == "STRING":
                self.i += 1
                return Operand("string", _unquote(t.text), t.text)
            if t.kind == "VAR":
                return self.var_operand(single=True)
            if t.kind == "IDENT" and t.text in (*KEYWORDS, *(k.lower() for k in KEYWORDS)):
                self.i += 1
                return Operand("keyword", t.text.upper(), t.text.upper())
            if self.at("IDENT", "now") or (self.at("PUNCT", "(") and self.peek().text == "now"):
                return self.date()
        elif t.kind == "IDENT" and t.text in ("NULL", "null"):
            self.i += 1
            return Operand("keyword", "NULL", "NULL")
        return self.number()

    def date(self) -> Operand:
        """``now()``, ``now() ± N unit``, either in parentheses (operand saw ``now`` or ``( now``)."""
        parens = self.tok.text == "("
        self.i += 2 if parens else 1  # past '(' and 'now', or 'now'
        self.take("PUNCT", "(")
        self.take("PUNCT", ")")
        offset, text = 0, "now()"
        if self.at("OP", "+", "-"):
            sign = self.take("OP").text
            hours, amount = self.duration()
            minutes = int(hours * 60)
            offset = minutes if sign == "+" else -minutes
            text = f"now() {sign} {amount}"
        if parens:
            self.take("PUNCT", ")")
            text = f"({text})"
        return Operand("date", DateValue("now", offset), text)

    def duration(self) -> tuple[Decimal, str]:
        """``N days|hours|minutes``: (hours, the text as written)."""
        amount = self.number()
        unit = self.take("IDENT", expected="days, hours or minutes")
        if unit.text not in _DURATION_HOURS:
            raise self.error("expected days, hours or minutes", unit)
        assert isinstance(amount.value, Decimal)
        return amount.value * _DURATION_HOURS[unit.text], f"{amount.text} {unit.text}"

    # numbers: literals with + - * / and parentheses, folded to one value; a function call makes
    # the number dynamic (moviestream/quality/dynamic.py), an expression tree over earlier runs
    def number(self) -> Operand:
        start, first = self.i, self.tok
        value = self._sum()
        if not isinstance(value, Decimal):
            if self.dynamic_rule is None:
                raise self.error(
                    f"{self.rule_name} takes no dynamic numbers ({value.render()}): dynamic rules are for "
                    + ", ".join(sorted(k for k, v in SUPPORTED.items() if v.dynamic)),
                    first,
                )
            assert is_dynamic(value)
            return Operand("dynamic", value, value.render())
        texts = [t.text for t in self.tokens[start : self.i]]
        if len(texts) == 1 or (len(texts) == 2 and texts[0] == "-"):
            text = "".join(texts)  # as written: 8.0 stays 8.0
        else:
            text = format(value.normalize(), "f")  # an expression renders as its value
        return Operand("number", value, text)

    def _sum(self) -> Decimal | Expr:
        first = self.tok
        start = self.i
        value = self._product()
        multiplied = self._multiplied(start)
        additive = False
        while self.at("OP", "+", "-"):
            op = self.take("OP").text
            additive = True
            start = self.i
            right = self._product()
            multiplied = multiplied or self._multiplied(start)
            if isinstance(value, Decimal) and isinstance(right, Decimal):
                value = value + right if op == "+" else value - right
            else:
                value = BinOp(op, _expr(value), _expr(right))
        if additive and multiplied:
            self.warnings.append(
                f"line {first.line}, column {first.column}: + or - mixed with * or / without parentheses; "
                "this engine applies * and / first, AWS's grammar reads them left to right: add parentheses"
            )
        return value

    def _multiplied(self, start: int) -> bool:
        """Whether the tokens read since ``start`` hold a * or / outside parentheses."""
        depth = 0
        for t in self.tokens[start : self.i]:
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                depth -= 1
            elif depth == 0 and t.kind == "OP" and t.text in ("*", "/"):
                return True
        return False

    def _product(self) -> Decimal | Expr:
        value = self._factor()
        while self.at("OP", "*", "/"):
            op_tok = self.take("OP")
            right = self._factor()
            if not (isinstance(value, Decimal) and isinstance(right, Decimal)):
                value = BinOp(op_tok.text, _expr(value), _expr(right))
                continue
            try:
                value = value * right if op_tok.text == "*" else value / right
            except (InvalidOperation, ZeroDivisionError):
                raise self.error("division by zero", op_tok) from None
        return value

    def _factor(self, in_aggregate: bool = False) -> Decimal | Expr:
        t = self.tok
        if self.at("OP", "-"):
            self.i += 1
            inner = self._factor()
            return -inner if isinstance(inner, Decimal) else Neg(inner)
        if t.kind == "NUMBER":
            self.i += 1
            return Decimal(t.text)
        if self.at("PUNCT", "("):
            self.i += 1
            value = self._sum()
            self.take("PUNCT", ")")
            if isinstance(value, BinOp):
                value = replace(value, parenthesised=True)
            return value
        if t.kind == "IDENT" and self.peek().text == "(":
            return self._call(in_aggregate)
        raise self.fail("a number")

    def _call(self, in_aggregate: bool) -> Call:
        """``name(args)``: a dynamic rule's function. ``last(k)`` with k > 1 is a list, so it must
        be the argument of a function that takes one (avg, index, ...)."""
        name_tok = self.tok
        if name_tok.text not in FUNCTIONS:
            raise self.error(f"unknown function {name_tok.text}(): one of {', '.join(FUNCTIONS)}", name_tok)
        self.i += 2  # the name and '(': _factor saw both
        args: list[Expr] = []
        while not self.at("PUNCT", ")"):
            if args:
                self.take("PUNCT", ",", "',' or ')'")
            takes_list = name_tok.text in LIST_FUNCTIONS and not args
            args.append(_expr(self._factor(in_aggregate=takes_list) if takes_list else self._sum()))
        self.i += 1  # ')': the loop above stopped at it
        call = Call(name_tok.text, tuple(args))
        if call.name == "last" and args and not in_aggregate:
            k = args[0]
            if isinstance(k, Num) and k.value > 1:
                raise self.error(
                    f"{call.render()} is a list of up to {k.value:g} values, not a number: aggregate it, "
                    f"e.g. avg({call.render()})",
                    name_tok,
                )
        return call


def _expr(value: Decimal | Expr) -> Expr:
    return Num(float(value)) if isinstance(value, Decimal) else value


_RESERVED = frozenset(
    {"and", "AND", "or", "OR", "where", "with", "labels", "between", "not", "in", "matches"}
)


def parse_ruleset(text: str) -> Ruleset:
    """Parse a DQDL document; raises DqdlSyntaxError naming line, column and what was expected."""
    return replace(_Parser(text).document(), source=text)


def read_ruleset(path: Path) -> Ruleset:
    """A ruleset file, parsed; ValueError with one clear line when it is missing, not UTF-8 text,
    or not valid DQDL (what the jobs' command lines report)."""
    if not path.is_file():
        raise ValueError(f"ruleset file not found: {path}")
    try:
        return parse_ruleset(path.read_text(encoding="utf-8"))
    except DqdlSyntaxError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
