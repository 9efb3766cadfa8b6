"""The DQDL rule types: what each takes, where it may appear, and whether it is judged per row.

One table drives the parser's checks (parameter counts, condition kinds, where / threshold
support) and the evaluator's row-level behaviour, so the two cannot disagree. Facts come from
AWS's DQDL reference and the public grammar's rule configuration (awslabs/dqdl); the data-quality
contract in docs/ARCHITECTURE.md lists what is supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ConditionKind(Enum):
    NONE = "none"  # IsComplete, IsUnique, ...: the rule takes no condition
    NUMBER = "number"  # a metric compared with numbers
    VALUE = "value"  # ColumnValues: numbers, strings, dates, keywords, matches
    TYPE_NAME = "type name"  # ColumnDataType = "INTEGER"
    DURATION = "duration"  # DataFreshness <= 24 hours
    OPTIONAL_NUMBER = "optional number"  # CustomSql: a number for a scalar query, none for a row query


@dataclass(frozen=True)
class RuleSpec:
    name: str
    min_params: int
    max_params: int | None  # None: any number (IsUnique "a" "b" ...)
    condition: ConditionKind
    where: bool = True  # `where "..."` allowed
    threshold: bool = False  # `with threshold ...` allowed
    row_level: bool = False  # judged per row (else listed in DataQualityRulesSkip)
    # Ratio rules cannot take part in a ROW-mode composite (AWS's list).
    in_row_composite: bool = True
    # The condition may be a dynamic expression over earlier runs (avg(last(10)) * 0.8): AWS's
    # list (dqdl-history.md). ColumnDataType takes one only in `with threshold`.
    dynamic: bool = False
    # May stand in Analyzers = [...] and be named by DetectAnomalies: the rule measures a metric.
    measurable: bool = False


_SPECS = (
    RuleSpec("IsComplete", 1, 1, ConditionKind.NONE, row_level=True),
    RuleSpec(
        "Completeness",
        1,
        1,
        ConditionKind.NUMBER,
        row_level=True,
        in_row_composite=False,
        dynamic=True,
        measurable=True,
    ),
    RuleSpec("ColumnValues", 1, 1, ConditionKind.VALUE, threshold=True, row_level=True, measurable=True),
    RuleSpec("ColumnLength", 1, 1, ConditionKind.NUMBER, row_level=True, measurable=True),
    RuleSpec("IsUnique", 1, None, ConditionKind.NONE, row_level=True),
    RuleSpec(
        "Uniqueness",
        1,
        None,
        ConditionKind.NUMBER,
        row_level=True,
        in_row_composite=False,
        dynamic=True,
        measurable=True,
    ),
    RuleSpec("UniqueValueRatio", 1, 1, ConditionKind.NUMBER, dynamic=True, measurable=True),
    RuleSpec("IsPrimaryKey", 1, None, ConditionKind.NONE, row_level=True),
    RuleSpec("ColumnExists", 1, 1, ConditionKind.NONE, where=False),
    RuleSpec("ColumnCount", 0, 0, ConditionKind.NUMBER, where=False, dynamic=True, measurable=True),
    RuleSpec("ColumnDataType", 1, 1, ConditionKind.TYPE_NAME, threshold=True, dynamic=True),
    RuleSpec("ColumnNamesMatchPattern", 1, 1, ConditionKind.NONE, where=False),
    RuleSpec("RowCount", 0, 0, ConditionKind.NUMBER, dynamic=True, measurable=True),
    RuleSpec("Mean", 1, 1, ConditionKind.NUMBER, dynamic=True, measurable=True),
    RuleSpec("Sum", 1, 1, ConditionKind.NUMBER, dynamic=True, measurable=True),
    RuleSpec("StandardDeviation", 1, 1, ConditionKind.NUMBER, dynamic=True, measurable=True),
    RuleSpec("Variance", 1, 1, ConditionKind.NUMBER, dynamic=True, measurable=True),
    RuleSpec("DistinctValuesCount", 1, 1, ConditionKind.NUMBER, dynamic=True, measurable=True),
    RuleSpec("Entropy", 1, 1, ConditionKind.NUMBER, dynamic=True, measurable=True),
    RuleSpec("ColumnCorrelation", 2, 2, ConditionKind.NUMBER, dynamic=True, measurable=True),
    RuleSpec("CustomSql", 1, 1, ConditionKind.OPTIONAL_NUMBER, where=False, threshold=True, measurable=True),
    RuleSpec("DataFreshness", 1, 1, ConditionKind.DURATION, row_level=True),
    # Rules against another dataset, bound to an alias (moviestream/quality/rules/reference.py).
    RuleSpec(
        "ReferentialIntegrity", 2, 2, ConditionKind.NUMBER, where=False, in_row_composite=False, dynamic=True
    ),
    RuleSpec("RowCountMatch", 1, 1, ConditionKind.NUMBER, where=False),
    RuleSpec("DatasetMatch", 2, 3, ConditionKind.NUMBER, where=False, in_row_composite=False),
    RuleSpec("AggregateMatch", 2, 2, ConditionKind.NUMBER, where=False),
    RuleSpec("SchemaMatch", 1, 1, ConditionKind.NUMBER, where=False),
    # DetectAnomalies "RowCount" | "Completeness" "c" | ...: the named rule's metrics, judged
    # against their history (moviestream/quality/anomalies.py).
    RuleSpec("DetectAnomalies", 1, None, ConditionKind.NONE, where=False),
    # Analyzers only: every statistic of one column.
    RuleSpec("AllStatistics", 1, 1, ConditionKind.NONE, where=False),
)
SUPPORTED: dict[str, RuleSpec] = {s.name: s for s in _SPECS}

# Rule types of the language this engine does not evaluate, and why: refused at parse time.
UNSUPPORTED: dict[str, str] = {
    # Glue judges the files of an S3 or catalog source. This engine judges rows: a stream's
    # batches have no files, and the backfill checks its files itself (size, checksum, resume).
    "FileFreshness": "it checks files, not rows",
    "FileMatch": "it checks files, not rows",
    "FileSize": "it checks files, not rows",
    "FileUniqueness": "it checks files, not rows",
}

# ColumnDataType's type names (case-insensitive) and the Spark types they are checked against.
DATA_TYPES: dict[str, str] = {
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "INTEGER": "int",
    "LONG": "bigint",
    "FLOAT": "float",
    "DOUBLE": "double",
    "DECIMAL": "decimal(38,18)",
    "STRING": "string",
}


# DetectAnomalies' metric names (the spec's list) and the rule type that measures each.
ANOMALY_METRICS: dict[str, str] = {
    name: name
    for name in (
        "RowCount",
        "ColumnCount",
        "Completeness",
        "Uniqueness",
        "UniqueValueRatio",
        "DistinctValuesCount",
        "Entropy",
        "Mean",
        "Sum",
        "StandardDeviation",
        "ColumnLength",
        "ColumnValues",
        "ColumnCorrelation",
    )
} | {"CustomSQL": "CustomSql", "CustomSql": "CustomSql"}


def compared_metric(rule_type: str, parameters: tuple[str, ...]) -> str | None:
    """The metric a rule compares with its (dynamic) condition or threshold, under Glue's name:
    the name its outcome's EvaluatedMetrics carries and its history is kept under."""
    keys = ",".join(parameters)
    names = {
        "RowCount": "Dataset.*.RowCount",
        "ColumnCount": "Dataset.*.ColumnCount",
        "CustomSql": "Dataset.*.CustomSQL",
        "ColumnCorrelation": f"Multicolumn.{keys}.ColumnCorrelation",
        "ColumnDataType": f"Column.{keys}.ColumnDataType.Compliance",
        "ColumnValues": f"Column.{keys}.ColumnValues.Compliance",
    }
    if rule_type in names:
        return names[rule_type]
    if rule_type == "ReferentialIntegrity":  # named by the alias, as AWS's open-source evaluator does
        return f"Column.{parameters[1].split('.', 1)[0]}.ReferentialIntegrity"
    if rule_type == "Uniqueness":
        return f"Column.{keys}.Uniqueness" if len(parameters) == 1 else f"Multicolumn.{keys}.Uniqueness"
    if rule_type in SUPPORTED and SUPPORTED[rule_type].dynamic:
        return f"Column.{keys}.{rule_type}"
    return None
