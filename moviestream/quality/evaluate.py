"""Evaluate a parsed DQDL ruleset on a Spark DataFrame, the way AWS Glue Data Quality reports it.

Every rule compiles to:
- a row predicate (a non-null boolean Column) when the rule is judged per row, and its scope
  (the ``where`` clause; rows outside it are labelled Passed, or Skipped on request);
- aggregate expressions for its dataset-level metrics, and a function that turns their values
  into an outcome (Passed/Failed, FailureReason, EvaluatedMetrics).

The aggregates of *all* rules run as one Spark aggregation (one job). Rules that need per-value
counts (IsUnique, Uniqueness, UniqueValueRatio, IsPrimaryKey, Entropy) add one window count
column first, which is a shuffle inside that same job. CustomSql runs its own query: it is
arbitrary SQL over the data registered as the view ``primary``.

Composite rules: in COLUMN mode (Glue's default) each child is judged over the whole dataset and
the outcomes are combined; in ROW mode the combined predicate is judged per row and the rule
passes when every row does. Row-level columns are Glue's (DataQualityRulesPass / Fail / Skip,
DataQualityEvaluationResult) plus our DataQualityFailureReasons.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from moviestream.quality.dqdl import (
    MEASURE,
    Composite,
    Condition,
    DateValue,
    Node,
    Rule,
    Ruleset,
    bind_history,
)
from moviestream.quality.dynamic import DynamicError
from moviestream.quality.history import run_metrics
from moviestream.quality.rules.base import (
    BOUND,
    DISTINCT_PREFIX,
    HISTORY,
    INTERNAL,
    ROW_COLUMNS,
    ROW_FAIL,
    ROW_PASS,
    ROW_REASONS,
    ROW_RESULT,
    ROW_SKIP,
    CompileContext,
    Compiled,
    EvaluationOptions,
    Judgement,
    RulesetError,
    col_ref,
    condition_predicate,
    metric_satisfies,
    scope_or_all,
)
from moviestream.quality.rules.compile import compile_node, compile_rule, row_decisive
from moviestream.quality.rules.reference import FRAME, REFERENCES

# Reference datasets by alias (ReferentialIntegrity "c" "alias.c", ...): bound when judging.
References = Mapping[str, DataFrame]

# What callers import from here; the rule families live in moviestream/quality/rules/.
__all__ = [
    "ROW_COLUMNS",
    "ROW_FAIL",
    "ROW_PASS",
    "ROW_REASONS",
    "ROW_RESULT",
    "ROW_SKIP",
    "CompiledRuleset",
    "Evaluation",
    "EvaluationOptions",
    "OnePassEvaluation",
    "Results",
    "RulesetError",
    "add_row_level_results",
    "condition_predicate",
    "evaluate_in_one_pass",
    "judge_measured",
    "metric_satisfies",
    "outcomes_from",
    "prepare",
    "row_decisive",
    "row_level_columns",
    "rule_outcomes",
]

# -- public API -----------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What compiling a ruleset against a DataFrame gives: the prepared frame and the rules."""

    frame: DataFrame  # the input plus window / join helper columns
    compiled: list[Compiled]
    ruleset: Ruleset
    options: EvaluationOptions
    windows: dict[str, Column] = field(default_factory=dict)  # the window helper columns added
    analyzers: list[Compiled] = field(default_factory=list)  # Analyzers = [...]: measured only


@dataclass
class Results:
    """One run's results: Glue's rule outcomes, the analyzers' metrics, and the run's metrics
    under Glue's names (what the history records for later runs)."""

    rules: list[dict[str, Any]]
    analyzers: list[dict[str, Any]]

    @property
    def metrics(self) -> dict[str, float]:
        return run_metrics([*self.rules, *self.analyzers])


def prepare(
    df: DataFrame,
    ruleset: Ruleset,
    options: EvaluationOptions | None = None,
    columns: Sequence[str] | None = None,
) -> Evaluation:
    """Compile the ruleset against ``df``. ``columns`` are the dataset's columns as the rules see
    them (default: all of ``df``'s); other columns ride along untouched."""
    options = options or EvaluationOptions()
    ctx = CompileContext(df, options, columns)
    compiled = [compile_node(node, ctx) for node in ruleset.rules]
    analyzers = [compile_rule(rule, ctx) for rule in ruleset.analyzers]
    frame = df
    for marker, result, columns in ctx.joins:  # CustomSql row form: mark the rows the query returns
        keys = [f"{marker}_{i}" for i in range(len(columns))]
        returned = result.select(*[col_ref(c).alias(k) for c, k in zip(columns, keys, strict=True)], marker)
        on = [frame[c].eqNullSafe(returned[k]) for c, k in zip(columns, keys, strict=True)]
        frame = frame.join(returned, on=on, how="left").drop(*keys)
    if ctx.windows:
        frame = frame.withColumns(ctx.windows)
    return Evaluation(frame, compiled, ruleset, options, dict(ctx.windows), analyzers)


def row_level_columns(evaluation: Evaluation) -> tuple[dict[str, Column], dict[str, Column]]:
    """Glue's row-level columns, plus one human reason per failed rule.

    Returns (helpers, columns): ``helpers`` are per-rule verdict columns to add first (each rule's
    predicate is computed once per row, not once per output column; Spark keeps the two
    projections apart because inlining would repeat the predicates), ``columns`` the outputs.
    Built for speed, since every row pays for them: each array is ``array_remove`` of an array
    whose unused slots hold the empty string (no rule text is empty), which Spark compiles to
    generated code, unlike ``array_compact``'s lambda; and a row that fails no rule (most rows)
    takes constant arrays instead of assembling them.
    """
    skip_filtered = evaluation.options.filtered_row_label == "SKIPPED"
    helpers: dict[str, Column] = {}
    passed, failed, skipped, reasons = [], [], [], []
    all_passed_labels: list[str] = []  # the Pass array of a row that fails nothing
    shortcut = True
    any_failed = F.lit(False)
    for i, c in enumerate(evaluation.compiled):
        label = F.lit(c.text)
        if c.row_pass is None:
            skipped.append(label)
            continue
        # 0 passed, 1 failed, 2 out of the rule's scope (its where clause)
        verdict = f"{INTERNAL}verdict{i}"
        helpers[verdict] = F.when(~scope_or_all(c.scope), 2).when(c.row_pass, 0).otherwise(1)
        v = F.col(verdict)
        fails = v == 1
        any_failed = any_failed | fails
        passed.append(_slot((v == 0) if skip_filtered else (v != 1), label))
        all_passed_labels.append(c.text)
        failed.append(_slot(fails, label))
        if skip_filtered and c.scope is not None:
            skipped.append(_slot(v == 2, label))
            shortcut = False  # a row that fails nothing may still have rules out of scope
        if row_decisive(c.node):
            reasons.append(_slot(fails, c.row_reason if c.row_reason is not None else label))
    any_name = f"{INTERNAL}any_failed"
    helpers[any_name] = any_failed
    any_failed = F.col(any_name)
    empty = F.array().cast("array<string>")

    def array(items: list[Column]) -> Column:
        return F.array_remove(F.array(*items), "") if items else empty

    pass_col = array(passed)
    if shortcut and passed:
        constant = F.array(*[F.lit(t) for t in all_passed_labels])
        pass_col = F.when(any_failed, pass_col).otherwise(constant)
    return helpers, {
        ROW_PASS: pass_col,
        ROW_FAIL: F.when(any_failed, array(failed)).otherwise(empty),
        ROW_SKIP: array(skipped),
        ROW_RESULT: F.when(any_failed, F.lit("Failed")).otherwise(F.lit("Passed")),
        ROW_REASONS: F.when(any_failed, array(reasons)).otherwise(empty),
    }


def _slot(condition: Column, value: Column) -> Column:
    """``value`` where ``condition`` holds, else the empty string that ``array_remove`` drops."""
    return F.when(condition, value).otherwise(F.lit(""))


def add_row_level_results(
    df: DataFrame,
    ruleset: Ruleset,
    options: EvaluationOptions | None = None,
    columns: Sequence[str] | None = None,
) -> DataFrame:
    """The input rows with Glue's row-level columns and DataQualityFailureReasons appended."""
    evaluation = prepare(df, ruleset, options, columns)
    return _with_row_level(evaluation, df.columns)


def _with_row_level(
    evaluation: Evaluation,
    keep: Sequence[str],
    between: Callable[[DataFrame], DataFrame] = lambda frame: frame,
) -> DataFrame:
    """The prepared frame with the row-level columns; helper columns dropped. ``between`` is
    applied after the per-rule verdicts and before the outputs (where observe() goes: it also
    ends Spark's generated-code stage there, so neither half grows past the size the JVM
    compiles to native code)."""
    verdicts, outputs = row_level_columns(evaluation)
    frame = between(evaluation.frame.withColumns(verdicts))
    helpers = [c for c in frame.columns if c not in keep]
    return frame.withColumns(outputs).drop(*helpers)


def _collected_alone(alias: str) -> bool:
    """Aggregates Spark cannot observe (DISTINCT ones) run as their own aggregation."""
    return alias.startswith(f"{INTERNAL}{DISTINCT_PREFIX}")


@dataclass
class OnePassEvaluation:
    """Row-level results whose rule metrics Spark gathers while it computes the rows.

    ``frame`` carries the row-level columns; the first action that reads all of it (a write, a
    count, materialising a persist) also computes every rule's metrics, through
    ``DataFrame.observe``, so rows and outcomes cost one pass over the data instead of two.
    ``outcomes()`` waits for that action. Only DISTINCT counts (DistinctValuesCount,
    UniqueValueRatio), which Spark cannot observe, take a second aggregation.
    """

    frame: DataFrame
    evaluation: Evaluation
    observation: Observation | None
    separate: dict[str, Column]

    def outcomes(
        self, history: Sequence[Mapping[str, float]] = (), references: References | None = None
    ) -> list[dict[str, Any]]:
        return self.results(history, references).rules

    def results(
        self, history: Sequence[Mapping[str, float]] = (), references: References | None = None
    ) -> Results:
        """Rule outcomes and analyzer metrics; ``history``: earlier runs' metrics, oldest first;
        ``references``: the reference datasets by alias."""
        values = dict(self.observation.get) if self.observation is not None else {}
        if self.separate:
            query = self.evaluation.frame.agg(*[a.alias(k) for k, a in self.separate.items()])
            values.update(query.collect()[0].asDict())
        return _results(self.evaluation, values, history, references)


def evaluate_in_one_pass(
    df: DataFrame,
    ruleset: Ruleset,
    options: EvaluationOptions | None = None,
    columns: Sequence[str] | None = None,
) -> OnePassEvaluation:
    """Row-level results and the rule outcomes from one pass over ``df`` (see OnePassEvaluation)."""
    evaluation = prepare(df, ruleset, options, columns)
    aggs = _all_aggs(evaluation)
    observed = {k: a for k, a in aggs.items() if not _collected_alone(k)}
    separate = {k: a for k, a in aggs.items() if _collected_alone(k)}
    if not observed:
        return OnePassEvaluation(_with_row_level(evaluation, df.columns), evaluation, None, separate)
    observation = Observation(f"{INTERNAL}metrics_{uuid.uuid4().hex}")
    metrics = [a.alias(k) for k, a in observed.items()]
    frame = _with_row_level(evaluation, df.columns, lambda f: f.observe(observation, *metrics))
    return OnePassEvaluation(frame, evaluation, observation, separate)


def _all_aggs(evaluation: Evaluation) -> dict[str, Column]:
    aggs: dict[str, Column] = {}
    for c in [*evaluation.compiled, *evaluation.analyzers]:
        aggs.update(c.aggs)
    return aggs


def outcomes_from(
    evaluation: Evaluation,
    history: Sequence[Mapping[str, float]] = (),
    references: References | None = None,
) -> Results:
    """Rule outcomes from ONE aggregation over the prepared frame (CustomSql queries aside)."""
    aggs = _all_aggs(evaluation)
    values = (
        evaluation.frame.agg(*[a.alias(k) for k, a in aggs.items()]).collect()[0].asDict() if aggs else {}
    )
    return _results(evaluation, values, history, references)


def _rebound(node: Node, bound_rules: dict[Rule, Rule]) -> Node:
    if isinstance(node, Rule):
        return bound_rules.get(node, node)
    return replace(node, children=tuple(_rebound(child, bound_rules) for child in node.children))


def _judge(
    c: Compiled, values: dict[str, Any], runs: Sequence[Mapping[str, float]]
) -> tuple[str, Judgement, str]:
    """(Outcome, judgement, EvaluatedRule) of one compiled rule for this run. A dynamic number that
    cannot be evaluated makes the outcome Error, with the reason; the rule's metrics are still
    measured, so the history keeps them."""
    dynamic = [leaf for leaf in c.node.leaves() if leaf.dynamic]
    try:
        bound_rules = {leaf: bind_history(leaf, runs) for leaf in dynamic}
    except DynamicError as exc:

        def measure(cond: Condition | None) -> Condition | None:
            return MEASURE if cond is not None and cond.dynamic else cond

        bound_rules = {
            leaf: replace(leaf, condition=measure(leaf.condition), threshold=measure(leaf.threshold))
            for leaf in dynamic
        }
        measured = c.judge(values | {BOUND: bound_rules})
        return (
            "Error",
            Judgement(False, f"Dynamic rule could not be evaluated: {exc}", measured.metrics),
            c.text,
        )
    judgement = c.judge(values | {BOUND: bound_rules})
    evaluated = _rebound(c.node, bound_rules).render() if dynamic else c.text
    return ("Passed" if judgement.passed else "Failed"), judgement, evaluated


def _results(
    evaluation: Evaluation,
    values: dict[str, Any],
    history: Sequence[Mapping[str, float]] = (),
    references: References | None = None,
) -> Results:
    runs = list(history)  # read only: never copied per batch (1,000 runs in a stream)
    values = values | {HISTORY: runs, FRAME: evaluation.frame, REFERENCES: dict(references or {})}
    outcomes = []
    for c in evaluation.compiled:
        outcome, result, evaluated = _judge(c, values, runs)
        entry: dict[str, Any] = {
            "Rule": c.text,
            "Outcome": outcome,
            "FailureReason": result.reason,
            "EvaluatedMetrics": {k: v for k, v in result.metrics.items() if v is not None},
            "EvaluatedRule": evaluated,
            "Labels": evaluation.ruleset.labels_of(c.node),
        }
        if result.observations:
            entry["Observations"] = result.observations
        outcomes.append(entry)
    analyzers = [
        {
            "Analyzer": a.text,
            "EvaluatedMetrics": {k: v for k, v in a.judge(values).metrics.items() if v is not None},
        }
        for a in evaluation.analyzers
    ]
    return Results(outcomes, analyzers)


def rule_outcomes(
    df: DataFrame,
    ruleset: Ruleset,
    options: EvaluationOptions | None = None,
    columns: Sequence[str] | None = None,
    history: Sequence[Mapping[str, float]] = (),
    references: References | None = None,
) -> list[dict[str, Any]]:
    """Dataset-level outcome of every rule, Glue's shape (Rule, Outcome, FailureReason, ...);
    ``history``: earlier runs' metrics, oldest first, for dynamic rules and DetectAnomalies;
    ``references``: the reference datasets by alias."""
    return outcomes_from(prepare(df, ruleset, options, columns), history, references).rules


# -- compiled once, applied to many frames ----------------------------------------------------


def reads_data_or_clock(ruleset: Ruleset) -> bool:
    """Whether compiling the ruleset reads the data (CustomSql runs its query then) or the clock
    (DataFreshness, ``now()``): such a ruleset is compiled for each frame it judges."""

    def uses_now(cond: Condition | None) -> bool:
        return cond is not None and any(
            isinstance(o.value, DateValue) and o.value.base == "now" for o in cond.operands
        )

    leaves = [
        leaf for node in ruleset.rules for leaf in (node.leaves() if isinstance(node, Composite) else [node])
    ]
    return any(
        r.rule_type in ("CustomSql", "DataFreshness") or uses_now(r.condition) or uses_now(r.threshold)
        for r in leaves
    )


class CompiledRuleset:
    """A ruleset compiled once for one schema, then applied to many frames of it.

    Building a ruleset's Columns costs a few thousand calls into the JVM (a few hundred ms);
    a streaming job judges every micro-batch with the same rules and schema, so it pays that
    once here instead of per batch. Rulesets for which ``reads_data_or_clock`` holds are
    compiled again for every frame, exactly as ``prepare`` would.
    """

    def __init__(
        self,
        template: DataFrame,
        ruleset: Ruleset,
        options: EvaluationOptions | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.options = options or EvaluationOptions()
        self.columns = columns
        self.per_frame = reads_data_or_clock(ruleset)
        if not self.per_frame:
            evaluation = prepare(template.limit(0), ruleset, self.options, columns)
            self._evaluation = evaluation
            self._verdicts, self._outputs = row_level_columns(evaluation)
            self._aggs = [a.alias(k) for k, a in _all_aggs(evaluation).items()]

    def _for(self, df: DataFrame) -> Evaluation:
        if self.per_frame:
            return prepare(df, self.ruleset, self.options, self.columns)
        e = self._evaluation
        frame = df.withColumns(e.windows) if e.windows else df
        return Evaluation(frame, e.compiled, e.ruleset, e.options, analyzers=e.analyzers)

    def add_row_level_results(self, df: DataFrame) -> DataFrame:
        """As the module's ``add_row_level_results``."""
        if self.per_frame:
            return _with_row_level(self._for(df), df.columns)
        helpers = [*self._evaluation.windows, *self._verdicts]
        return self._for(df).frame.withColumns(self._verdicts).withColumns(self._outputs).drop(*helpers)

    def outcomes(
        self, df: DataFrame, history: Sequence[Mapping[str, float]] = (), references: References | None = None
    ) -> list[dict[str, Any]]:
        """As ``rule_outcomes``: every rule's dataset-level outcome over ``df``, one aggregation."""
        return self.results(df, history, references).rules

    def results(
        self, df: DataFrame, history: Sequence[Mapping[str, float]] = (), references: References | None = None
    ) -> Results:
        """Rule outcomes and analyzer metrics over ``df`` (history: earlier runs, oldest first;
        references: the reference datasets by alias)."""
        return judge_measured(*self.measure(df), history, references)

    def measure(self, df: DataFrame) -> tuple[Evaluation, dict[str, Any]]:
        """The Spark half of ``results``: one aggregation of every rule's metrics over ``df``."""
        evaluation = self._for(df)
        aggs = [a.alias(k) for k, a in _all_aggs(evaluation).items()] if self.per_frame else self._aggs
        values = evaluation.frame.agg(*aggs).collect()[0].asDict() if aggs else {}
        return evaluation, values


def judge_measured(
    evaluation: Evaluation,
    values: dict[str, Any],
    history: Sequence[Mapping[str, float]] = (),
    references: References | None = None,
) -> Results:
    """The other half of ``results``: the measured values judged against ``history`` (no Spark
    job, except the reference rules' own queries)."""
    return _results(evaluation, values, history, references)
