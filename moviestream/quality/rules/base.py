"""What every rule compiler shares: the outcome types, the options, the compile context over the
data, and the row predicates DQDL conditions compile to."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from moviestream.quality.dqdl import Condition, DateValue, Node, Operand, Rule
from moviestream.quality.sql_guard import guard_for

ROW_PASS = "DataQualityRulesPass"
ROW_FAIL = "DataQualityRulesFail"
ROW_SKIP = "DataQualityRulesSkip"
ROW_RESULT = "DataQualityEvaluationResult"
# Ours: one reason per failed rule that every row must pass (see row_decisive); a row with none
# is good for the pipeline. Ratio rules (Completeness, Uniqueness, thresholds) judge the batch.
ROW_REASONS = "DataQualityFailureReasons"
ROW_COLUMNS = (ROW_PASS, ROW_FAIL, ROW_SKIP, ROW_RESULT, ROW_REASONS)
INTERNAL = "__dq_"
# Helper name of DISTINCT aggregates: observe() cannot compute them, so they are collected apart.
DISTINCT_PREFIX = "distinct"

NOT_MET = "does not meet the constraint requirement!"


class RulesetError(ValueError):
    """The ruleset cannot be evaluated as asked (e.g. a ratio rule inside a ROW-mode composite)."""


@dataclass(frozen=True)
class EvaluationOptions:
    """Glue's additional_options that change results, with Glue's defaults."""

    composite_mode: str = "COLUMN"  # compositeRuleEvaluation.method: COLUMN | ROW
    filtered_row_label: str = "PASSED"  # rowLevelConfiguration.filteredRowLabel: PASSED | SKIPPED
    now: datetime | None = None  # now() for dates and DataFreshness (UTC); None = the clock

    @classmethod
    def from_glue(cls, additional_options: dict[str, str] | None) -> EvaluationOptions:
        opts = additional_options or {}
        mode = opts.get("compositeRuleEvaluation.method", "COLUMN").upper()
        label = opts.get("rowLevelConfiguration.filteredRowLabel", "PASSED").upper()
        if mode not in ("COLUMN", "ROW"):
            raise RulesetError(f"compositeRuleEvaluation.method must be ROW or COLUMN, not {mode!r}")
        if label not in ("PASSED", "SKIPPED"):
            raise RulesetError(
                f"rowLevelConfiguration.filteredRowLabel must be PASSED or SKIPPED, not {label!r}"
            )
        return cls(mode, label)

    def clock(self) -> datetime:
        """now() as DQDL defines it: UTC, truncated to the minute."""
        now = self.now or datetime.now(UTC)
        return now.astimezone(UTC).replace(second=0, microsecond=0, tzinfo=None)


@dataclass
class Judgement:
    passed: bool
    reason: str | None
    metrics: Mapping[str, float | None]
    # DetectAnomalies' findings, Glue's DataQualityObservation shape: Description, and
    # MetricBasedObservation {MetricName, MetricValues {ActualValue, ExpectedValue, LowerLimit, UpperLimit}}.
    observations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Compiled:
    node: Node
    text: str
    row_pass: Column | None  # None: not judged per row (listed in DataQualityRulesSkip)
    scope: Column | None = None  # the where clause; None: every row
    aggs: dict[str, Column] = field(default_factory=dict)
    judge: Callable[[dict[str, Any]], Judgement] = lambda _: Judgement(True, None, {})
    row_reason: Column | None = None  # text shown for a failed row


# -- small helpers ----------------------------------------------------------------------------


def col_ref(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def as_float(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) else f


def fmt(value: float | None, integral: bool = False) -> str:
    if value is None:
        return "NULL"
    if integral and float(value).is_integer():
        return str(int(value))
    return repr(float(value))


# values[BOUND]: each dynamic rule with its numbers evaluated against this run's history, set by
# the caller of the judges (evaluate._outcomes); a rule not in it is judged as written. A judge
# reads its condition through ``bound`` at judge time, because a ruleset compiled once judges many
# runs, each with its own history.
BOUND = "__dq_bound"
# values[HISTORY]: the earlier runs' metrics, oldest first (DetectAnomalies reads them).
HISTORY = "__dq_history"


def bound(rule: Rule, values: dict[str, Any]) -> Rule:
    """The rule as this run judges it (its dynamic numbers evaluated), see BOUND."""
    return values.get(BOUND, {}).get(rule, rule)


def metric_satisfies(value: float | None, cond: Condition) -> bool:
    """A dataset-level metric against a numeric condition (DQDL between is exclusive). An
    analyzer's condition (MEASURE) always holds."""
    if cond.operator == "measure":
        return True
    if value is None:
        return False
    nums = [float(o.value) for o in cond.operands if isinstance(o.value, Decimal)]
    match cond.operator:
        case "=":
            return value == nums[0]
        case "!=":
            return value != nums[0]
        case ">":
            return value > nums[0]
        case ">=":
            return value >= nums[0]
        case "<":
            return value < nums[0]
        case "<=":
            return value <= nums[0]
        case "between":
            return nums[0] < value < nums[1]
        case "not_between":
            return value <= nums[0] or value >= nums[1]
        case "in":
            return value in nums
        case "not_in":
            return value not in nums
    raise ValueError(f"operator {cond.operator} does not apply to a metric")


def is_numeric(dtype: T.DataType) -> bool:
    return isinstance(dtype, T.NumericType)


def is_temporal(dtype: T.DataType) -> bool:
    return isinstance(dtype, T.DateType | T.TimestampType | T.TimestampNTZType)


class CompileContext:
    """What compilation needs to know about the data: its schema, the options, the session."""

    def __init__(self, df: DataFrame, options: EvaluationOptions, columns: Sequence[str] | None) -> None:
        self.df = df
        self.options = options
        if columns is None:
            columns = [c for c in df.columns if not c.startswith(INTERNAL) and c not in ROW_COLUMNS]
        self.columns = list(columns)  # the dataset as the rules see it (ColumnCount, CustomSql's primary)
        all_types = {f.name: f.dataType for f in df.schema.fields}
        self.types = {c: all_types[c] for c in self.columns if c in all_types}
        self.now = options.clock()
        self.windows: dict[str, Column] = {}  # window count columns to add, by name
        self.joins: list[tuple[str, DataFrame, list[str]]] = []  # CustomSql row checks
        self.counter = 0

    def name(self, what: str) -> str:
        self.counter += 1
        return f"{INTERNAL}{what}{self.counter}"

    def missing(self, names: tuple[str, ...]) -> str | None:
        return next((n for n in names if n not in self.types), None)

    def where(self, rule: Rule) -> tuple[Column | None, str | None]:
        """(scope, error) for the rule's where clause; an invalid clause fails the rule, as in Glue."""
        if rule.where is None:
            return None, None
        refused = guard_for(self.df.sparkSession).expression(rule.where)
        if refused:
            why = refused[0]
            return None, f"Rule {rule.render()} has provided a where clause a ruleset may not run : {why}"
        try:
            expr = F.expr(rule.where)
            self.df.select(expr).schema  # noqa: B018 - analysis: unknown columns fail here
        except (PySparkException, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return None, f"Rule {rule.render()} has provided an invalid where clause : {first}"
        return F.coalesce(expr.cast("boolean"), F.lit(False)), None

    def key_count(self, keys: tuple[str, ...], scope: Column | None) -> Column:
        """Rows in scope sharing this row's key values (a window count; shared between rules)."""
        name = f"{INTERNAL}count_{abs(hash((keys, str(scope))))}"
        if name not in self.windows:
            counted = F.lit(1) if scope is None else F.when(scope, 1)
            self.windows[name] = F.count(counted).over(Window.partitionBy(*[col_ref(k) for k in keys]))
        return F.col(name)


def scope_or_all(scope: Column | None) -> Column:
    return F.lit(True) if scope is None else scope


def count_if(pred: Column) -> Column:
    return F.count(F.when(pred, 1))


# -- row predicates for conditions ------------------------------------------------------------


def keyword_test(col: Column, keyword: str) -> Column:
    if keyword == "NULL":
        return col.isNull()
    text = col.cast("string")
    if keyword == "EMPTY":
        return text == ""
    return (F.length(text) > 0) & (F.length(F.trim(text)) == 0)  # WHITESPACES_ONLY


def operand_value(op: Operand, dtype: T.DataType, now: datetime) -> Column:
    if op.kind == "date":
        value = op.value
        assert isinstance(value, DateValue)
        moment = now + timedelta(minutes=value.offset_minutes)
        return (
            F.lit(moment).cast("timestamp_ntz") if not isinstance(dtype, T.TimestampType) else F.lit(moment)
        )
    if op.kind == "string" and is_temporal(dtype):
        return F.lit(op.value).try_cast(dtype)
    return F.lit(op.value)


def comparable(col: Column, dtype: T.DataType, cond: Condition) -> Column:
    """The column as the condition compares it: numbers against numbers, never an ANSI cast error."""
    kinds = {o.kind for o in cond.operands}
    if "number" in kinds and not is_numeric(dtype):
        return col.try_cast("double")
    if "date" in kinds and not is_temporal(dtype):
        return col.try_cast("timestamp")
    if "string" in kinds and not isinstance(dtype, T.StringType) and not is_temporal(dtype):
        return col.cast("string")
    return col


def condition_predicate(col: Column, dtype: T.DataType, cond: Condition, now: datetime) -> Column:
    """TRUE when the value satisfies the condition. NULL fails every operator except ``!=`` and
    ``not in`` (which pass), as AWS documents for ColumnValues; keywords change that."""
    ops, op = cond.operands, cond.operator
    if op in ("matches", "not_matches"):
        pattern = f"^(?:{ops[0].value})$"
        test = col.cast("string").rlike(pattern)
        return F.coalesce(test if op == "matches" else ~test, F.lit(False))
    if op in ("in", "not_in"):
        plain = [o for o in ops if o.kind != "keyword"]
        member = F.lit(False)
        if plain:
            if any(o.kind == "string" for o in plain):
                member = col.cast("string").isin([str(o.value) for o in plain])
            elif is_numeric(dtype):
                member = col.isin([o.value for o in plain])
            else:
                member = col.try_cast("double").isin([float(o.value) for o in plain])  # type: ignore[arg-type]  # numbers, by kind
            member = F.coalesce(member, F.lit(False))
        for kw in (o for o in ops if o.kind == "keyword"):
            member = member | F.coalesce(keyword_test(col, str(kw.value)), F.lit(False))
        return member if op == "in" else ~member
    value = comparable(col, dtype, cond)
    if op in ("between", "not_between"):
        low, high = (operand_value(o, dtype, now) for o in ops)
        test = (value > low) & (value < high) if op == "between" else (value <= low) | (value >= high)
        return F.coalesce(test, F.lit(False))
    operand = ops[0]
    if operand.kind == "keyword":
        test = keyword_test(col, str(operand.value))
        return F.coalesce(test if op == "=" else ~test, F.lit(op == "!="))
    rhs = operand_value(operand, dtype, now)
    compare = {
        "=": value == rhs,
        "!=": value != rhs,
        ">": value > rhs,
        ">=": value >= rhs,
        "<": value < rhs,
        "<=": value <= rhs,
    }[op]
    return F.coalesce(compare, F.lit(op == "!="))


def number_predicate(value: Column, cond: Condition) -> Column:
    """A numeric per-row value (a length, an age) against a numeric condition; NULL fails."""
    nums = [F.lit(float(o.value)) for o in cond.operands if isinstance(o.value, Decimal)]
    op = cond.operator
    test = {
        "=": lambda: value == nums[0],
        "!=": lambda: value != nums[0],
        ">": lambda: value > nums[0],
        ">=": lambda: value >= nums[0],
        "<": lambda: value < nums[0],
        "<=": lambda: value <= nums[0],
        "between": lambda: (value > nums[0]) & (value < nums[1]),
        "not_between": lambda: (value <= nums[0]) | (value >= nums[1]),
        "in": lambda: value.isin(nums),
        "not_in": lambda: ~value.isin(nums),
    }[op]()
    return F.coalesce(test, F.lit(False))


# -- shared by the rule compilers ------------------------------------------------------------


def failed_rule(node: Node, text: str, reason: str, row_level: bool) -> Compiled:
    """A rule that cannot be evaluated fails; per row it fails too (nothing is certified by it)."""
    return Compiled(
        node,
        text,
        F.lit(False) if row_level else None,
        judge=lambda _: Judgement(False, reason, {}),
        row_reason=F.lit(f"{text}: {reason}"),
    )


def value_reason(text: str, col: Column) -> Column:
    shown = F.coalesce(col.cast("string"), F.lit("NULL"))
    return F.concat(F.lit(f"{text}: Value: "), shown, F.lit(f" {NOT_MET}"))


def ratio_judge(
    metric: str, agg_ok: str, agg_n: str, test: Callable[[float, dict[str, Any]], bool]
) -> Callable[[dict[str, Any]], Judgement]:
    """A share of rows (``agg_ok`` of ``agg_n``) judged by ``test(ratio, values)``."""

    def judge(values: dict[str, Any]) -> Judgement:
        n = values[agg_n] or 0
        if n == 0:
            return Judgement(False, "No rows to evaluate (none in scope)", {})
        ratio = (values[agg_ok] or 0) / n
        ok = test(ratio, values)
        return Judgement(ok, None if ok else f"Value: {fmt(ratio)} {NOT_MET}", {metric: ratio})

    return judge
