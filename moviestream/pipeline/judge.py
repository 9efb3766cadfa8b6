"""The pure part of one micro-batch: from raw Kinesis rows to judged, typed records.

``judge_records`` returns every user record of the batch exactly once, with:
- ``is_duplicate``: an exact re-delivery (same event_id) of a record earlier in the batch;
- ``is_good``: the record parsed, has every CSV field, and passed every row-level rule;
- ``reasons``: why a record is bad (empty for good records).
Nothing is filtered out here, so the counts add up by construction: good + bad + duplicates = in.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from moviestream.core.record import GENRE_BYTES, TYPED_COLUMNS, WAREHOUSE_TEXT_BYTES
from moviestream.core.transform import (
    FieldTyping,
    envelope_columns,
    expand_kinesis_records,
    file_row_columns,
    is_file_rows,
    parsed_envelope,
    with_poison_failpoint,
)
from moviestream.quality.dqdl import Ruleset
from moviestream.quality.evaluate import ROW_REASONS, CompiledRuleset


def kinesis_order() -> list:
    """Stream position of a user record: shard, sequence number, position inside its aggregate."""
    return [F.col("shard_id"), F.lpad("sequence_number", 64, "0"), F.col("sub_sequence_number")]


def _utf8_sized(text: Column) -> Column:
    """``text`` with each non-ASCII character replaced by one 'x' per UTF-8 byte it takes, so that
    character counts (what regular expressions see) become byte counts."""
    for pattern, width in (
        (r"[\x{10000}-\x{10FFFF}]", 4),
        (r"[\x{800}-\x{FFFF}]", 3),
        (r"[\x{80}-\x{7FF}]", 2),
    ):
        text = F.regexp_replace(text, pattern, "x" * width)
    return text


def unfit_for_warehouse() -> Column:
    """One reason per text value the warehouse cannot store: longer (in UTF-8 bytes) than its
    column, or holding a NUL character (PostgreSQL's text and Redshift's VARCHAR refuse U+0000).
    Loading it would fail the whole batch's transaction, and every retry of it, so the record is
    bad instead.

    Built without lambdas (filter, transform, array_compact), which would cost the projection
    Spark's generated code: unused slots hold "" and are removed, and the genre test is a regular
    expression over the genres joined by commas (see _utf8_sized).
    """

    def over(name: str, value: Column, limit: int) -> Column:
        size = F.octet_length(value)
        return F.when(
            size > limit,
            F.concat(
                F.lit(f"{name} is "),
                size.cast("string"),
                F.lit(f" bytes, over the warehouse limit of {limit}"),
            ),
        ).otherwise(F.lit(""))

    checks = [
        over(name, F.col(name), limit) for name, limit in WAREHOUSE_TEXT_BYTES.items() if name != "genres"
    ]
    checks.append(over("genres", F.array_join("genres", ", "), WAREHOUSE_TEXT_BYTES["genres"]))
    # A genre (no commas, no spaces at either end) of more than GENRE_BYTES bytes: the first such
    # genre of the list is the regular expression's first match.
    too_long_genre = f"([^, ][^,]{{{GENRE_BYTES - 1},}}[^, ])"
    joined = F.array_join("genres", ",")
    sized = _utf8_sized(joined)
    checks.append(
        F.when(
            # The regular expressions only run when the genres together could hold a genre that
            # long, which they rarely can (sampled, regular expressions were about 8% of the JVM's
            # work judging a backfill).
            (F.octet_length(joined) > GENRE_BYTES) & sized.rlike(too_long_genre),
            F.concat(
                F.lit("a genre is "),
                F.length(F.regexp_extract(sized, too_long_genre, 1)).cast("string"),
                F.lit(f" bytes, over the warehouse limit of {GENRE_BYTES}"),
            ),
        ).otherwise(F.lit(""))
    )
    # instr, not a regular expression: one scan of each value, and only NUL is refused.
    nul = "\u0000"
    for name in (*(n for n in WAREHOUSE_TEXT_BYTES if n != "genres"), "event_id"):
        checks.append(
            F.when(F.instr(F.col(name), nul) > 0, F.lit(f"{name} holds a NUL character (U+0000)")).otherwise(
                F.lit("")
            )
        )
    checks.append(
        F.when(
            F.instr(F.array_join("genres", ","), nul) > 0, F.lit("genres holds a NUL character (U+0000)")
        ).otherwise(F.lit(""))
    )
    return F.array_remove(F.array(*checks), "")


class BatchJudge:
    """``judge_records`` for one ruleset, over many batches of one source schema.

    Every Column (envelope parsing, typing, the compiled rules, reasons) is built on the first
    batch and reused: building them costs thousands of calls into the JVM, which in a streaming
    job would otherwise be paid again for every micro-batch.
    """

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self._built = False
        self._envelope_columns: list[Column] | None = None
        self._file_row_columns: list[Column] | None = None

    def _parsed(self, expanded: DataFrame) -> DataFrame:
        """The user records with their envelopes parsed: from the JSON payload, or, for file
        rows handed over as columns (FILE_ROW_SCHEMA), as they are."""
        if is_file_rows(expanded):
            if self._file_row_columns is None:
                self._file_row_columns = file_row_columns()
            return expanded.select(*self._file_row_columns)
        if self._envelope_columns is None:
            self._envelope = parsed_envelope()
            self._envelope_columns = envelope_columns([c for c in expanded.columns if c != "record_error"])
        return expanded.withColumn("_env", self._envelope).select(*self._envelope_columns)

    def _build(self, parsed: DataFrame) -> None:
        self._typing = FieldTyping()
        typed = self._typing.apply(parsed)
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
        # array_remove of "" rather than array_compact: no lambda (see unfit_for_warehouse).
        reasons = F.when(F.col("record_error").isNotNull(), F.array(F.col("record_error"))).otherwise(
            F.array_remove(
                F.concat(
                    F.array(F.coalesce(missing, F.lit(""))),
                    F.col(ROW_REASONS),
                    F.array(F.coalesce(F.when(F.size(ROW_REASONS) > 0, parse_note), F.lit(""))),
                    F.col("_too_long"),
                ),
                "",
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
        self._too_long = unfit_for_warehouse()
        self._verdict_columns = [
            is_duplicate.alias("is_duplicate"),
            good.alias("is_good"),
            reasons.alias("reasons"),
        ]
        self._verdicts_without_redelivery = [F.lit(False).alias("is_duplicate"), *self._verdict_columns[1:]]
        self._built = True

    def judge(self, source: DataFrame) -> DataFrame:
        """Judge raw Kinesis rows (SOURCE_SCHEMA): KPL aggregates are expanded first."""
        return self.judge_expanded(expand_kinesis_records(source))

    def judge_expanded(self, expanded: DataFrame, redelivery_possible: bool = True) -> DataFrame:
        """Judge user records already one per row, as a file's rows are: envelopes
        (EXPANDED_SCHEMA) or file rows as columns (FILE_ROW_SCHEMA, the backfill's hand-off).

        ``redelivery_possible=False`` says no event id can occur twice (a file's rows: the event
        id hashes the row's number), so the duplicate search, a shuffle and sort of every
        record, is skipped and ``is_duplicate`` is false throughout.
        """
        parsed = self._parsed(with_poison_failpoint(expanded))
        if not self._built:
            self._build(parsed)
        typed = self._typing.apply(parsed)
        checked = self.rules.add_row_level_results(typed)
        verdicts = self._verdict_columns if redelivery_possible else self._verdicts_without_redelivery
        return checked.withColumn("_too_long", self._too_long).select("*", *verdicts).drop("_too_long")


def judge_records(source: DataFrame, ruleset: Ruleset) -> DataFrame:
    """Every user record of ``source``, judged (see the module's docstring)."""
    return BatchJudge(ruleset).judge(source)


def newest_per_movie(good: pa.Table) -> pa.Table:
    """The newest event of each movie (by produced_at, then stream position), in movie_id order.

    ``good`` holds a batch's good records with at least movie_id, produced_at, shard_id,
    sequence_number and sub_sequence_number. It runs on the driver over the rows the warehouse
    load collects anyway: in Spark the same choice is a window, a shuffle and a sort of every
    record of the batch. Nulls sort last, as in Spark's descending order.
    """
    if good.num_rows == 0:
        return good
    position = pc.utf8_lpad(good["sequence_number"], 64, "0")  # decimal strings, compared as text
    keyed = good.append_column("_position", position)
    order = pc.sort_indices(
        keyed,
        sort_keys=[
            ("movie_id", "ascending"),
            ("produced_at", "descending"),
            ("shard_id", "descending"),
            ("_position", "descending"),
            ("sub_sequence_number", "descending"),
        ],
        null_placement="at_end",
    )
    ordered = good.take(order)
    ids = ordered["movie_id"].combine_chunks()
    # The first row of each run of equal movie_ids is that movie's newest.
    first = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)).fill_null(True)
    return ordered.filter(pa.concat_arrays([pa.array([True]), first]))
