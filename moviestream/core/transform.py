"""Pure Spark transforms of the per-batch pipeline: Kinesis records -> envelopes -> typed movies.

Every function takes a DataFrame and returns one, with no I/O, so each is testable with a
SparkSession alone. Nothing is dropped here: a record that cannot be expanded or parsed keeps its
row and gets a reason in ``record_error``; a field that cannot be typed becomes NULL and its name
is listed in ``parse_errors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any

import orjson
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import from_arrow_schema

from moviestream.core.deaggregate import deaggregate
from moviestream.core.failpoints import poison_marker, poisoned
from moviestream.core.movie_key import movie_id
from moviestream.core.record import CSV_COLUMNS, EVENT_ID_BYTES, SUPPORTED_SCHEMA_VERSIONS

# Raw Kinesis records, one per row: what every source hands the pipeline (the local job's
# Kinesis source, the Glue job's Kinesis frame, the warm-up).
SOURCE_SCHEMA = T.StructType(
    [
        T.StructField("shard_id", T.StringType(), False),
        T.StructField("sequence_number", T.StringType(), False),
        T.StructField("partition_key", T.StringType(), True),
        T.StructField("approximate_arrival_timestamp", T.TimestampType(), True),
        T.StructField("data", T.BinaryType(), True),
    ]
)

ENVELOPE_SCHEMA = T.StructType(
    [
        T.StructField("schema_version", T.IntegerType()),
        T.StructField("event_id", T.StringType()),
        T.StructField("source", T.StringType()),
        T.StructField("row_number", T.LongType()),
        T.StructField("produced_at", T.StringType()),
        T.StructField("fields", T.MapType(T.StringType(), T.StringType())),
        T.StructField("_corrupt_record", T.StringType()),
    ]
)

# A Kinesis record expanded to its user records, one row each. Declared once, in Arrow (the
# driver-side isolation builds it); Spark's type is derived, so the two cannot drift.
ARROW_EXPANDED = pa.schema(
    [
        ("shard_id", pa.string()),
        ("sequence_number", pa.string()),
        ("sub_sequence_number", pa.int32()),
        ("partition_key", pa.string()),
        ("approximate_arrival_timestamp", pa.timestamp("us", tz="UTC")),
        ("payload", pa.binary()),
        ("record_error", pa.string()),
        ("movie_id", pa.string()),
    ]
)
EXPANDED_SCHEMA = from_arrow_schema(ARROW_EXPANDED)


def _field_text(value: object) -> str | None:
    """A raw field value as Spark's map<string,string> reading of the JSON gives it."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def movie_key(payload: bytes | None) -> str | None:
    """movie_id from the envelope's raw title and year; None when the payload is not a JSON
    object with a ``fields`` object. Computed here, in the pass that already touches every user
    record in Python, rather than in a UDF of its own (one Python round trip per batch less)."""
    try:
        doc = orjson.loads(payload or b"")
        fields = doc.get("fields") if isinstance(doc, dict) else None
        if not isinstance(fields, dict):
            return None
        # orjson writes back at most 254 levels of nesting (TypeError past that): such a title or
        # year is no key, and the record is bad with the reason parse_envelopes gives.
        return movie_id(_field_text(fields.get("Series_Title")), _field_text(fields.get("Released_Year")))
    except (orjson.JSONDecodeError, TypeError):
        return None


def expand_batches(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        cols: dict[str, list[Any]] = {name: [] for name in ARROW_EXPANDED.names}
        shard, seq, key, ts, data = (batch.column(i).to_pylist() for i in range(5))
        for i in range(batch.num_rows):
            for rec in deaggregate(data[i] or b"", key[i]):
                cols["shard_id"].append(shard[i])
                cols["sequence_number"].append(seq[i])
                cols["sub_sequence_number"].append(rec.sub_sequence_number)
                cols["partition_key"].append(rec.partition_key)
                cols["approximate_arrival_timestamp"].append(ts[i])
                cols["payload"].append(rec.payload)
                cols["record_error"].append(rec.error)
                cols["movie_id"].append(None if rec.error else movie_key(rec.payload))
        yield pa.RecordBatch.from_pydict(cols, schema=ARROW_EXPANDED)


def expand_kinesis_records(df: DataFrame) -> DataFrame:
    """One row per user record: KPL aggregates are expanded, plain records pass through; each
    user record gets its ``movie_id`` (see ``movie_key``)."""
    source = df.select(
        "shard_id", "sequence_number", "partition_key", "approximate_arrival_timestamp", "data"
    )
    return source.mapInArrow(expand_batches, EXPANDED_SCHEMA)


def _raise_for_marked(batches: Iterator[pa.RecordBatch], marker: bytes) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if "fields" in batch.schema.names:  # file rows as columns: no payload, the values instead
            for fields in batch.column("fields").to_pylist():
                poisoned("\x1f".join(v or "" for _, v in fields or []).encode(), marker)
        else:
            for payload in batch.column("payload").to_pylist():
                poisoned(payload, marker)
        yield batch


def with_poison_failpoint(expanded: DataFrame) -> DataFrame:
    """Tests only (moviestream/core/failpoints.py): judging a user record whose payload (or, for
    file rows as columns, a field value) holds the MOVIESTREAM_POISON text raises. Read on the
    driver, the marker travels with the plan; unset, the plan is unchanged."""
    marker = poison_marker()
    if marker is None:
        return expanded
    return expanded.mapInArrow(partial(_raise_for_marked, marker=marker), expanded.schema)


def parsed_envelope() -> Column:
    """The payload parsed as an envelope (a struct; ``_corrupt_record`` set when it is not JSON)."""
    return F.from_json(
        F.col("payload").cast("string"),
        ENVELOPE_SCHEMA,
        # Strict JSON, as movie_key's parser reads it (Spark's defaults also take 'single quotes'
        # and NaN).
        {
            "mode": "PERMISSIVE",
            "columnNameOfCorruptRecord": "_corrupt_record",
            "allowSingleQuotes": "false",
            "allowNonNumericNumbers": "false",
        },
    )


def envelope_columns(passthrough: Sequence[str]) -> list[Column]:
    """parse_envelopes' output columns, reading the parsed envelope from the column ``_env``.
    Separate from the DataFrame function so a caller judging many batches builds them once."""
    supported = F.array(*[F.lit(v) for v in sorted(SUPPORTED_SCHEMA_VERSIONS)])
    error = (
        F.when(F.col("record_error").isNotNull(), F.col("record_error"))
        .when(F.col("payload").isNull(), F.lit("empty Kinesis record"))
        .when(F.col("_env._corrupt_record").isNotNull(), F.lit("payload is not a JSON envelope"))
        .when(F.col("_env").isNull(), F.lit("payload is not a JSON envelope"))
        .when(
            F.col("_env.event_id").isNull()
            | F.col("_env.fields").isNull()
            | F.col("_env.schema_version").isNull(),
            F.lit("envelope is missing event_id, schema_version or fields"),
        )
        .when(
            F.octet_length("_env.event_id") > EVENT_ID_BYTES,
            F.lit(f"event_id is longer than {EVENT_ID_BYTES} bytes"),
        )
        .when(
            ~F.array_contains(supported, F.col("_env.schema_version")),
            F.concat(F.lit("unknown schema_version "), F.col("_env.schema_version").cast("string")),
        )
        # Spark read the envelope but Python's strict parser did not (e.g. invalid UTF-8, which
        # Spark's string cast replaces, or a title nested too deeply to write back): no movie_id,
        # so the record cannot be loaded.
        .when(
            F.col("movie_id").isNull(),
            F.lit("movie_id cannot be derived: the payload is not strict UTF-8 JSON"),
        )
    )
    return [
        *[F.col(c) for c in passthrough],
        error.alias("record_error"),
        F.col("_env.event_id").alias("event_id"),
        F.col("_env.schema_version").alias("schema_version"),
        F.col("_env.source").alias("source"),
        F.col("_env.row_number").alias("row_number"),
        F.col("_env.produced_at").alias("produced_at_raw"),
        F.try_to_timestamp(F.col("_env.produced_at")).alias("produced_at"),
        F.col("_env.fields").alias("fields"),
    ]


def parse_envelopes(df: DataFrame) -> DataFrame:
    """Parse the JSON envelope of each user record; failures get a reason in ``record_error``."""
    passthrough = [c for c in df.columns if c != "record_error"]
    return df.withColumn("_env", parsed_envelope()).select(*envelope_columns(passthrough))


# A file's rows handed to Spark as columns (the backfill's default): what parse_envelopes gives
# for an envelope, less ``produced_at``, which Spark derives from ``produced_at_raw`` with the same
# expression (file_row_columns), so both hand-offs type it alike. No payload: the JSON exists only
# on the envelope hand-off; a file row can have no record_error (its envelope is built here).
ARROW_FILE_ROWS = pa.schema(
    [
        *[ARROW_EXPANDED.field(name) for name in ARROW_EXPANDED.names if name != "record_error"],
        ("record_error", pa.string()),
        ("event_id", pa.string()),
        ("schema_version", pa.int32()),
        ("source", pa.string()),
        ("row_number", pa.int64()),
        ("produced_at_raw", pa.string()),
        ("fields", pa.map_(pa.string(), pa.string())),
    ]
)
FILE_ROW_SCHEMA = from_arrow_schema(ARROW_FILE_ROWS)


def is_file_rows(df: DataFrame) -> bool:
    """Whether ``df`` holds file rows as columns (FILE_ROW_SCHEMA) rather than envelopes."""
    return "fields" in df.columns and "payload" in df.columns


def file_row_columns() -> list[Column]:
    """FILE_ROW_SCHEMA's columns in parse_envelopes' order and shape."""
    names = FILE_ROW_SCHEMA.names
    at = names.index("produced_at_raw") + 1
    return [
        *[F.col(c) for c in names[:at]],
        F.try_to_timestamp(F.col("produced_at_raw")).alias("produced_at"),
        *[F.col(c) for c in names[at:]],
    ]


# --- typing ------------------------------------------------------------------------------------


RAW_PREFIX = "_raw_"


def _raw_value(name: str) -> Column:
    """The trimmed raw CSV value; blank becomes NULL (a missing value, not a parse error)."""
    value = F.trim(F.col("fields").getItem(name))
    return F.when(value == "", F.lit(None)).otherwise(value)


def _raw(name: str) -> Column:
    """The raw value as computed once by the first of the two typing projections."""
    return F.col(RAW_PREFIX + name)


def _int_from(raw: Column, pattern: str, dtype: str) -> Column:
    """Cast when the whole value matches ``pattern``, else NULL. Group 1 of every pattern here
    holds the digits (with thousands commas) and is never empty on a match, so one regular
    expression both tests and extracts; commas go by a plain replace, which needs none."""
    digits = F.replace(F.regexp_extract(raw, pattern, 1), F.lit(","), F.lit(""))
    return F.when(digits != "", digits.try_cast(dtype))


_DECIMAL = r"^([0-9]+(\.[0-9]+)?)$"


def _typed_columns() -> dict[str, tuple[str, Column]]:
    """typed column -> (raw CSV column, expression). Built lazily: Columns need a SparkContext."""
    rating_raw = _raw("IMDB_Rating")
    genre_raw = _raw("Genre")
    # Split on commas with the spaces around them (what trimming each genre would remove), then
    # drop empty genres: no lambda, so the projection keeps Spark's generated code.
    genres = F.array_remove(F.split(genre_raw, " *, *"), "")
    return {
        "series_title": ("Series_Title", _raw("Series_Title")),
        "released_year": ("Released_Year", _int_from(_raw("Released_Year"), r"^([0-9]{4})$", "int")),
        "certificate": ("Certificate", _raw("Certificate")),
        "runtime_minutes": ("Runtime", _int_from(_raw("Runtime"), r"^([0-9]+)\s*(min)?$", "int")),
        "genres": ("Genre", F.when(genre_raw.isNotNull(), genres)),
        "imdb_rating": (
            "IMDB_Rating",
            F.when(rating_raw.rlike(_DECIMAL), rating_raw.try_cast("decimal(3,1)")),
        ),
        "overview": ("Overview", _raw("Overview")),
        "meta_score": ("Meta_score", _int_from(_raw("Meta_score"), r"^([0-9]+)$", "int")),
        "director": ("Director", _raw("Director")),
        "star1": ("Star1", _raw("Star1")),
        "star2": ("Star2", _raw("Star2")),
        "star3": ("Star3", _raw("Star3")),
        "star4": ("Star4", _raw("Star4")),
        "no_of_votes": (
            "No_of_Votes",
            _int_from(_raw("No_of_Votes"), r"^([0-9]{1,3}(,[0-9]{3})*|[0-9]+)$", "bigint"),
        ),
        "gross_usd": ("Gross", _int_from(_raw("Gross"), r"^\$?([0-9]{1,3}(,[0-9]{3})*|[0-9]+)$", "bigint")),
        "poster_link": ("Poster_Link", _raw("Poster_Link")),
    }


class FieldTyping:
    """type_movie_fields as two projections, built once by a caller typing many batches.

    The first projection looks each raw value up in the ``fields`` map and trims it once; the
    second types from those columns. In one projection every use of a raw value (the type test,
    the extraction, the parse-error test) repeated the map lookup and the trim, which made typing
    the most expensive step of judging a batch. Spark keeps the two projections apart because
    the second uses each raw column more than once.
    """

    def __init__(self) -> None:
        typed = _typed_columns()
        fields = F.col("fields")
        self.raw_columns = [_raw_value(name).alias(RAW_PREFIX + name) for name in CSV_COLUMNS]
        # Lambdas (filter, transform, array_compact) would cost the projections their generated
        # code, so the arrays below are built from set operations and array_remove of "" instead.
        expected = F.array(*[F.lit(c) for c in CSV_COLUMNS])
        self.raw_columns.append(
            F.coalesce(F.array_except(expected, F.map_keys(fields)), F.array().cast("array<string>")).alias(
                "missing_fields"
            )
        )
        errors = F.array_remove(
            F.array(
                *[
                    F.when(_raw(raw).isNotNull() & expr.isNull(), F.lit(name)).otherwise(F.lit(""))
                    for name, (raw, expr) in typed.items()
                ]
            ),
            "",
        )
        self.typed_columns = [
            *[expr.alias(name) for name, (_, expr) in typed.items()],
            errors.alias("parse_errors"),
        ]
        self.raw_names = [RAW_PREFIX + name for name in CSV_COLUMNS]

    def apply(self, df: DataFrame) -> DataFrame:
        with_raw = df.select("*", *self.raw_columns)
        return with_raw.select("*", *self.typed_columns).drop(*self.raw_names)


def type_movie_fields(df: DataFrame) -> DataFrame:
    """Typed movie columns from the envelope's raw fields, plus ``parse_errors`` and ``missing_fields``."""
    return FieldTyping().apply(df)
