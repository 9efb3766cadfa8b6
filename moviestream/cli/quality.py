"""`moviestream quality`: check a ruleset against a movies CSV, or lint a ruleset.

    recommend DATA.csv [--out RULES.dqdl]
    check RULES.dqdl DATA.csv [--json] [--composite-mode ROW] [--filtered-rows SKIPPED]
          [--history FILE [--no-record]] [--ref ALIAS=SOURCE ...]
    lint RULES.dqdl [--columns a,b,c]
    annotate ... | history ...       (moviestream/cli/quality_history.py)

``check`` reads the CSV with the producer's reader, types it exactly as the streaming job does
and evaluates the rules on the typed columns. ``--history FILE`` keeps the metric history that
dynamic rules and DetectAnomalies read: JSON Lines, one earlier run per line, oldest first; the
check reads it, then appends this run's line (``--no-record``: read only). Exit codes: 0 every
rule passed, 1 a rule failed or errored, 2 bad usage, a bad ruleset or an unreadable file (one
line on stderr).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from moviestream.cli.exit_codes import ExitCode, fail
from moviestream.cli.options import dsn_flag_warning, ref_schemas_option
from moviestream.cli.quality_history import annotate, history
from moviestream.core.record import TYPED_COLUMNS
from moviestream.quality.dqdl import Composite, DqdlSyntaxError, Ruleset, parse_ruleset
from moviestream.quality.history import HistoryFileError, append_run, read_history
from moviestream.quality.reference_sources import Binding, ReferenceLoadError, ReferenceSet, parse_bindings
from moviestream.quality.references import REFERENCE_RULES, primary_columns


def _load_ruleset(path: Path) -> Ruleset:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text")
    try:
        return parse_ruleset(text)
    except DqdlSyntaxError as exc:
        fail(f"{path}: {exc}")
    raise AssertionError("unreachable")


def referenced_columns(ruleset: Ruleset) -> set[str]:
    """Columns the rules name as parameters (CustomSql and patterns aside)."""
    names: set[str] = set()
    for node in [*ruleset.rules, *ruleset.analyzers]:
        for rule in node.leaves() if isinstance(node, Composite) else [node]:
            if rule.rule_type in REFERENCE_RULES:  # only the primary's columns are the data's
                names.update(primary_columns(rule.rule_type, rule.parameters))
            elif rule.rule_type == "DetectAnomalies":  # "Metric", then the watched rule's columns
                names.update(
                    rule.parameters[1:] if rule.parameters[0] not in ("CustomSql", "CustomSQL") else ()
                )
            elif rule.rule_type not in ("CustomSql", "ColumnNamesMatchPattern"):
                names.update(rule.parameters)
    return names


@click.group("quality")
def cli() -> None:
    """DQDL (AWS Glue Data Quality) rulesets, evaluated with this project's Spark engine."""


cli.add_command(annotate)
cli.add_command(history)


def _refusals(ruleset) -> list[str]:  # a parsed Ruleset
    """What its CustomSql queries and where clauses hold that a ruleset may not run
    (moviestream/quality/sql_guard.py); Spark's parser judges, so Spark starts only when the
    ruleset has such text."""
    from moviestream.quality.sql_guard import needs_sql_check, ruleset_refusals

    if not needs_sql_check(ruleset):
        return []
    from moviestream.core.spark import command_session

    with command_session("moviestream-quality-lint") as spark:
        return ruleset_refusals(spark, ruleset)


@cli.command()
@click.argument("rules", type=click.Path(path_type=Path))
@click.option(
    "--columns",
    default=",".join(TYPED_COLUMNS),
    show_default="the job's typed columns",
    help="Comma-separated columns the data will have.",
)
def lint(rules: Path, columns: str) -> None:
    """Validate a ruleset: syntax, rule types, and the columns it names."""
    ruleset = _load_ruleset(rules)
    known = {c.strip() for c in columns.split(",") if c.strip()}
    unknown = sorted(referenced_columns(ruleset) - known)
    if unknown:
        fail(f"{rules}: unknown column(s) {', '.join(unknown)} (the data has: {', '.join(sorted(known))})")
    for warning in ruleset.warnings:
        click.echo(f"{rules}: warning: {warning}", err=True)
    refusals = _refusals(ruleset)
    for line in refusals:
        click.echo(f"error: {rules}: refused: {line}", err=True)
    if refusals:
        sys.exit(ExitCode.USAGE)
    analyzers = f", {len(ruleset.analyzers)} analyzers" if ruleset.analyzers else ""
    click.echo(f"{rules}: ok ({len(ruleset.rules)} rules{analyzers})")


@cli.command()
@click.argument("rules", type=click.Path(path_type=Path))
@click.argument("data")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--composite-mode",
    type=click.Choice(["COLUMN", "ROW"], case_sensitive=False),
    default="COLUMN",
    show_default=True,
    help="How composite rules are judged (Glue's compositeRuleEvaluation.method).",
)
@click.option(
    "--filtered-rows",
    type=click.Choice(["PASSED", "SKIPPED"], case_sensitive=False),
    default="PASSED",
    show_default=True,
    help="Label of rows a where clause leaves out (Glue's rowLevelConfiguration.filteredRowLabel).",
)
@click.option(
    "--history",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Metric history (JSON Lines, oldest run first) for dynamic rules and DetectAnomalies; "
    "this run is appended.",
)
@click.option("--no-record", is_flag=True, help="Read --history without appending this run.")
@click.option(
    "--ref",
    "references",
    multiple=True,
    metavar="ALIAS=SOURCE",
    help="A reference dataset for ReferentialIntegrity, DatasetMatch, ...: a CSV or Parquet file, "
    "s3://bucket/key, or warehouse:schema.table. Repeatable.",
)
@ref_schemas_option
@click.option(
    "--warehouse-dsn",
    envvar="MOVIESTREAM_WAREHOUSE_DSN",
    default=None,
    callback=dsn_flag_warning,
    show_default="$MOVIESTREAM_WAREHOUSE_DSN or the local stack's",
    help="Where warehouse:schema.table references are read.",
)
def check(
    rules: Path,
    data: str,
    as_json: bool,
    composite_mode: str,
    filtered_rows: str,
    history: Path | None,
    no_record: bool,
    references: tuple[str, ...],
    ref_schemas: str,
    warehouse_dsn: str | None,
) -> None:
    """Type DATA (a movies CSV, local or s3://) as the job does and evaluate RULES on it."""
    from moviestream.core.csv_source import InputError, check_input
    from moviestream.quality.evaluate import EvaluationOptions, RulesetError

    if no_record and history is None:
        fail("--no-record needs --history FILE")
    ruleset = _load_ruleset(rules)
    try:
        check_input(data)
        runs = read_history(history) if history is not None else []
        bindings = parse_bindings(references, ref_schemas.split(","))
    except (InputError, HistoryFileError, ReferenceLoadError) as exc:
        fail(str(exc))
    options = EvaluationOptions(composite_mode.upper(), filtered_rows.upper())
    started = time.monotonic()
    try:
        report = run_check(ruleset, data, options, runs, bindings, warehouse_dsn)
    except RulesetError as exc:
        fail(f"{rules}: {exc}")
    except ReferenceLoadError as exc:
        fail(str(exc))
    report["seconds"] = round(time.monotonic() - started, 2)
    report["history_runs"] = len(runs)
    if history is not None and not no_record and report["rows"]:
        try:
            append_run(history, report["metrics"], data=data, rows=report["rows"])
        except OSError as exc:
            fail(f"cannot append to {history}: {exc.strerror}")
    if as_json:
        click.echo(json.dumps(report, default=str))
    else:
        _print_table(report)
    failed = any(r["Outcome"] != "Passed" for r in report["rules"])
    sys.exit(ExitCode.FAILED if failed else ExitCode.OK)


def read_typed(spark: Any, location: str) -> tuple[Any, int]:
    """(the file typed as the job types it, with parse_errors; None for no rows, unreadable rows):
    read with the producer's reader, keyed as the producer keys it."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    from moviestream.core.csv_source import Reject, open_input, read_rows
    from moviestream.core.movie_key import movie_id
    from moviestream.core.transform import type_movie_fields

    header: tuple[str, ...] = ()
    columns: dict[str, list[str]] = {}
    unreadable = 0
    with open_input(location) as stream:
        for item in read_rows(stream, location):
            if isinstance(item, Reject):
                unreadable += 1
                continue
            if not columns:
                header = item.header
                columns = {name: [] for name in header}
            for name, value in zip(header, item.values, strict=True):
                columns[name].append(value)
    if not columns:
        return None, unreadable
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    nothing: list[str | None] = [None] * table.num_rows
    titles, years = columns.get("Series_Title") or nothing, columns.get("Released_Year") or nothing
    keys = [movie_id(t, y) for t, y in zip(titles, years, strict=True)]
    table = table.append_column("__movie_id", pa.array(keys, pa.string()))
    raw = spark.createDataFrame(table.to_pandas())
    fields = F.create_map(*[x for name in header for x in (F.lit(name), F.col(f"`{name}`"))])
    typed = type_movie_fields(raw.select(fields.alias("fields"), F.col("__movie_id").alias("movie_id")))
    return typed.select(*TYPED_COLUMNS, "parse_errors"), unreadable


def run_check(
    ruleset: Ruleset,
    location: str,
    options: Any,
    history: list | None = None,
    bindings: tuple[Binding, ...] = (),
    warehouse_dsn: str | None = None,
) -> dict[str, Any]:
    """Outcomes and row counts for one file (on a local Spark session, stopped after)."""
    from pyspark.sql import functions as F

    from moviestream.core.spark import command_session
    from moviestream.quality.evaluate import ROW_REASONS, ROW_RESULT, evaluate_in_one_pass

    with command_session("moviestream-quality-check") as spark:
        typed, unreadable = read_typed(spark, location)
        if typed is None:
            return {
                "rows": 0,
                "rows_passed": 0,
                "rows_failed": 0,
                "rows_bad": 0,
                "rows_with_parse_errors": 0,
                "rows_unreadable": unreadable,
                "rules": [],
                "analyzers": [],
                "metrics": {},
            }
        # One pass: the row counts below are the action during which the rule metrics are observed.
        one_pass = evaluate_in_one_pass(typed, ruleset, options, columns=TYPED_COLUMNS)
        counts = one_pass.frame.agg(
            F.count(F.lit(1)).alias("rows"),
            F.count(F.when(F.col(ROW_RESULT) == "Passed", 1)).alias("passed"),
            F.count(F.when(F.size(ROW_REASONS) > 0, 1)).alias("bad"),
            F.count(F.when(F.size("parse_errors") > 0, 1)).alias("parse_errors"),
        ).collect()[0]
        results = one_pass.results(history or [], _references(spark, bindings, warehouse_dsn))
    return {
        "rows": counts["rows"],
        "rows_passed": counts["passed"],
        "rows_failed": counts["rows"] - counts["passed"],
        "rows_bad": counts["bad"],  # what the job would route to the bad-records store
        "rows_with_parse_errors": counts["parse_errors"],
        "rows_unreadable": unreadable,
        "rules": results.rules,
        "analyzers": results.analyzers,
        "metrics": results.metrics,  # what --history records for later runs
    }


@cli.command()
@click.argument("data")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the ruleset here (default: standard output).",
)
def recommend(data: str, out: Path | None) -> None:
    """Propose a starter ruleset for DATA (a movies CSV, local or s3://), typed as the job types it:
    a rule for every column, from one profile of the data (thresholds: moviestream/quality/recommend.py)."""
    from moviestream.core.csv_source import InputError, check_input
    from moviestream.core.spark import command_session
    from moviestream.quality.recommend import recommend as recommend_rules

    try:
        check_input(data)
    except InputError as exc:
        fail(str(exc))
    with command_session("moviestream-quality-recommend") as spark:
        typed, _ = read_typed(spark, data)
        if typed is None:
            fail(f"{data}: no rows to profile")
        cached = typed.cache()
        try:
            text = recommend_rules(cached, list(TYPED_COLUMNS), Path(data).name)
        finally:
            cached.unpersist()  # a borrowed session outlives the command
    count = len(parse_ruleset(text).rules)  # what it writes always parses
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    click.echo(f"{out}: {count} rules recommended from {data}", err=True)


def _references(spark: Any, bindings: tuple[Binding, ...], warehouse_dsn: str | None) -> Any:
    """The bound references, read now (ReferenceLoadError: one line)."""
    if not bindings:
        return {}

    def query(sql: str) -> tuple[list[str], list[tuple]]:
        from moviestream.core.config import warehouse_dsn as default_dsn
        from moviestream.warehouse.targets import query_rows

        return query_rows(warehouse_dsn or default_dsn(), sql)

    return ReferenceSet(spark, bindings, query=query).current()


def _print_table(report: dict[str, Any]) -> None:
    click.echo(
        f"rows {report['rows']}: passed {report['rows_passed']}, failed {report['rows_failed']};"
        f" bad records {report['rows_bad']} (failing a rule every row must pass);"
        f" unreadable {report['rows_unreadable']}, with parse errors {report['rows_with_parse_errors']}"
    )
    width = max((len(r["Rule"]) for r in report["rules"]), default=4)
    click.echo(f"{'Rule':<{width}}  Outcome  FailureReason / EvaluatedMetrics")
    for r in report["rules"]:
        metrics = ", ".join(f"{k}={v:.6g}" for k, v in r["EvaluatedMetrics"].items())
        detail = r["FailureReason"] or metrics
        if r["FailureReason"] and metrics:
            detail += f" [{metrics}]"
        click.echo(f"{r['Rule']:<{width}}  {r['Outcome']:<7}  {detail}")
        if r["EvaluatedRule"] != r["Rule"]:
            click.echo(f"{'':<{width}}           evaluated as: {r['EvaluatedRule']}")
    for a in report.get("analyzers", []):
        metrics = ", ".join(f"{k}={v:.6g}" for k, v in a["EvaluatedMetrics"].items())
        click.echo(f"analyzer {a['Analyzer']}: {metrics or 'no value'}")
