"""The pure part of one micro-batch: from raw Kinesis rows to judged, typed records.

``judge_records`` returns every user record of the batch exactly once, with:
- ``is_duplicate``: an exact re-delivery (same event_id) of a record earlier in the batch;
- ``is_good``: the record parsed, has every CSV field, and passed every row-level rule;
- ``reasons``: why a record is bad (empty for good records).
Nothing is filtered out here, so the counts add up by construction: good + bad + duplicates = in.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from moviestream.quality.dqdl import Ruleset
from moviestream.quality.evaluate import ROW_REASONS, CompiledRuleset
from moviestream.record import GENRE_BYTES, TYPED_COLUMNS, WAREHOUSE_TEXT_BYTES
from moviestream.transform import (
    envelope_columns,
    expand_kinesis_records,
    parsed_envelope,
    typed_field_columns,
)


def kinesis_order() -> list:
    """Stream position of a user record: shard, sequence number, position inside its aggregate."""
    return [F.col("shard_id"), F.lpad("sequence_number", 64, "0"), F.col("sub_sequence_number")]


def too_long_for_warehouse() -> Column:
    """One reason per text value longer (in UTF-8 bytes) than its warehouse column: loading it
    would fail the whole batch's transaction, so the record is bad instead."""

    def over(name: str, value: Column, limit: int) -> Column:
        size = F.octet_length(value)
        return F.when(
            size > limit,
            F.concat(
                F.lit(f"{name} is "),
                size.cast("string"),
                F.lit(f" bytes, over the warehouse limit of {limit}"),
            ),
        )

    checks = [
        over(name, F.col(name), limit) for name, limit in WAREHOUSE_TEXT_BYTES.items() if name != "genres"
    ]
    checks.append(over("genres", F.array_join("genres", ", "), WAREHOUSE_TEXT_BYTES["genres"]))
    longest_genre = F.array_max(F.transform("genres", lambda g: F.octet_length(g)))
    checks.append(
        F.when(
            longest_genre > GENRE_BYTES,
            F.concat(
                F.lit("a genre is "),
                longest_genre.cast("string"),
                F.lit(f" bytes, over the warehouse limit of {GENRE_BYTES}"),
            ),
        )
    )
    return F.array_compact(F.array(*checks))


class BatchJudge:
    """``judge_records`` for one ruleset, over many batches of one source schema.

    Every Column (envelope parsing, typing, the compiled rules, reasons) is built on the first
    batch and reused: building them costs thousands of calls into the JVM, which in a streaming
    job would otherwise be paid again for every micro-batch.
    """

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self._built = False

    def _build(self, expanded: DataFrame) -> None:
        self._envelope = parsed_envelope()
        self._envelope_columns = envelope_columns([c for c in expanded.columns if c != "record_error"])
        self._typed_columns = typed_field_columns()
        typed = expanded.withColumn("_env", self._envelope).select(*self._envelope_columns)
        typed = typed.select("*", *self._typed_columns)
        # The rules see the typed movie columns only (ColumnCount, CustomSql's primary, ...).
        self.rules = CompiledRuleset(typed, self.ruleset, columns=TYPED_COLUMNS)
        first_delivery = Window.partitionBy("event_id").orderBy(*kinesis_order())
        is_duplicate = F.col("event_id").isNotNull() & (F.row_number().over(first_delivery) > 1)
        missing = F.when(
            F.size("missing_fields") > 0,
            F.concat(F.lit("envelope is missing CSV fields: "), F.array_join("missing_fields", ", ")),
        )
        parse_note = F.when(
            F.size("parse_errors") > 0,
            F.concat(F.lit("could not parse: "), F.array_join("parse_errors", ", ")),
        )
        reasons = F.when(F.col("record_error").isNotNull(), F.array(F.col("record_error"))).otherwise(
            F.array_compact(
                F.concat(
                    F.array(missing),
                    F.col(ROW_REASONS),
                    F.array(F.when(F.size(ROW_REASONS) > 0, parse_note)),
                    F.col("_too_long"),
                )
            )
        )
        # Good: parsed, every CSV field present, no failure of a rule every row must pass
        # (DataQualityFailureReasons; ratio rules like Completeness judge the batch, not the row),
        # and every value fits its warehouse column.
        good = (
            F.col("record_error").isNull()
            & (F.size("missing_fields") == 0)
            & (F.size(ROW_REASONS) == 0)
            & (F.size("_too_long") == 0)
        )
        self._too_long = too_long_for_warehouse()
        self._verdict_columns = [
            is_duplicate.alias("is_duplicate"),
            good.alias("is_good"),
            reasons.alias("reasons"),
        ]
        self._built = True

    def judge(self, source: DataFrame) -> DataFrame:
        expanded = expand_kinesis_records(source)
        if not self._built:
            self._build(expanded)
        typed = expanded.withColumn("_env", self._envelope).select(*self._envelope_columns)
        typed = typed.select("*", *self._typed_columns)
        checked = self.rules.add_row_level_results(typed)
        return (
            checked.withColumn("_too_long", self._too_long)
            .select("*", *self._verdict_columns)
            .drop("_too_long")
        )


def judge_records(source: DataFrame, ruleset: Ruleset) -> DataFrame:
    """Every user record of ``source``, judged (see the module's docstring)."""
    return BatchJudge(ruleset).judge(source)


def newest_per_movie(good: DataFrame) -> DataFrame:
    """Keep the newest event of each movie in the batch (by produced_at, then stream position)."""
    newest_first = Window.partitionBy("movie_id").orderBy(
        F.col("produced_at").desc_nulls_last(), *[c.desc() for c in kinesis_order()]
    )
    return good.withColumn("_rank", F.row_number().over(newest_first)).where("_rank = 1").drop("_rank")
