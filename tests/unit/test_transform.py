from decimal import Decimal

import pytest

from moviestream.core.transform import (
    SOURCE_SCHEMA,
    expand_kinesis_records,
    parse_envelopes,
    type_movie_fields,
)
from tests.helpers import envelope, movie_fields, source_rows


def typed(spark, **overrides):
    df = spark.createDataFrame(source_rows([envelope("e1", movie_fields(**overrides))]), SOURCE_SCHEMA)
    return type_movie_fields(parse_envelopes(expand_kinesis_records(df))).collect()[0]


def test_clean_row_is_fully_typed(spark):
    row = typed(spark)
    assert row["record_error"] is None
    assert (row["released_year"], row["runtime_minutes"], row["imdb_rating"]) == (1972, 175, Decimal("9.2"))
    assert row["genres"] == ["Crime", "Drama"]
    assert (row["no_of_votes"], row["gross_usd"], row["meta_score"]) == (1620367, 134966411, 100)
    assert row["parse_errors"] == [] and row["missing_fields"] == []
    assert row["produced_at"] is not None


@pytest.mark.parametrize(
    ("field", "raw", "column"),
    [
        ("Released_Year", "PG", "released_year"),
        ("Runtime", "2h 22m", "runtime_minutes"),
        ("IMDB_Rating", "N/A", "imdb_rating"),
        ("IMDB_Rating", "8,5", "imdb_rating"),
        ("IMDB_Rating", "100.5", "imdb_rating"),  # does not fit decimal(3,1)
        ("Gross", "12.3M", "gross_usd"),
        ("Meta_score", "eighty", "meta_score"),
        ("No_of_Votes", "1,23", "no_of_votes"),
    ],
)
def test_unparseable_value_becomes_null_and_is_named(spark, field, raw, column):
    row = typed(spark, **{field: raw})
    assert row[column] is None
    assert row["parse_errors"] == [column]


def test_blank_values_are_missing_not_parse_errors(spark):
    row = typed(spark, Gross="", Meta_score="  ", Series_Title=" ")
    assert (row["gross_usd"], row["meta_score"], row["series_title"]) == (None, None, None)
    assert row["parse_errors"] == []


def test_poison_records_get_reasons(spark):
    payloads = [b"not json", b'{"hello": 1}', envelope("e3", movie_fields(), schema_version=99), b""]
    df = spark.createDataFrame(source_rows(payloads), SOURCE_SCHEMA)
    errors = [r["record_error"] for r in parse_envelopes(expand_kinesis_records(df)).collect()]
    assert errors == [
        "payload is not a JSON envelope",
        "envelope is missing event_id, schema_version or fields",
        "unknown schema_version 99",
        "payload is not a JSON envelope",
    ]


def test_typed_frame_equals_an_explicit_expected_frame(spark):
    """Whole-frame comparison (chispa) of the typed columns for a clean row and a messy one."""
    from chispa import assert_df_equality

    messy = movie_fields(
        Series_Title="  Léon ",
        Released_Year="PG",
        Runtime="110min",
        Genre="Action,  Crime ,",
        IMDB_Rating="8.5",
        Gross="$19,501,238",
        Meta_score="",
        No_of_Votes="1,234,567",
    )
    df = spark.createDataFrame(
        source_rows([envelope("a", movie_fields()), envelope("b", messy)]), SOURCE_SCHEMA
    )
    columns = [
        "series_title",
        "released_year",
        "runtime_minutes",
        "genres",
        "imdb_rating",
        "meta_score",
        "no_of_votes",
        "gross_usd",
        "parse_errors",
    ]
    actual = type_movie_fields(parse_envelopes(expand_kinesis_records(df))).select(*columns)
    expected = spark.createDataFrame(
        [
            ("The Godfather", 1972, 175, ["Crime", "Drama"], Decimal("9.2"), 100, 1620367, 134966411, []),
            (
                "Léon",
                None,
                110,
                ["Action", "Crime"],
                Decimal("8.5"),
                None,
                1234567,
                19501238,
                ["released_year"],
            ),
        ],
        "series_title string, released_year int, runtime_minutes int, genres array<string>, "
        "imdb_rating decimal(3,1), meta_score int, no_of_votes bigint, gross_usd bigint, "
        "parse_errors array<string>",
    )
    assert_df_equality(actual, expected, ignore_nullable=True, ignore_row_order=True)


def test_a_payload_spark_reads_but_strict_json_does_not_has_no_movie_id(spark):
    # Invalid UTF-8 in a value: Spark's string cast replaces it and parses the envelope, the
    # strict parser that derives movie_id refuses it; the record must be bad, not keyless.
    payload = envelope("e1", movie_fields(Series_Title="TITLE")).replace(b"TITLE", b"T\xffT")
    df = spark.createDataFrame(source_rows([payload]), SOURCE_SCHEMA)
    row = type_movie_fields(parse_envelopes(expand_kinesis_records(df))).collect()[0]
    assert row["movie_id"] is None
    assert row["record_error"] == "movie_id cannot be derived: the payload is not strict UTF-8 JSON"


def test_envelopes_must_be_strict_json(spark):
    payload = envelope("e1", movie_fields()).replace(b'"schema_version"', b"'schema_version'")
    df = spark.createDataFrame(source_rows([payload]), SOURCE_SCHEMA)
    assert parse_envelopes(expand_kinesis_records(df)).collect()[0]["record_error"] == (
        "payload is not a JSON envelope"
    )
