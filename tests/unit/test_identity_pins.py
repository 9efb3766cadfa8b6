"""The identities the pipeline's data is keyed by, pinned as literal values.

A movie's key is the Kinesis partition key and the warehouse's primary key; an event id is what
re-deliveries are recognised by; the S3 keys are where Athena's partitions and every rerun's
overwrite look. If any of them drifted, a deploy would fill the warehouse with duplicates or
orphan what is in S3 while every test that compares the code with itself stayed green. These
values were taken from the code as deployed; a change here is a data migration, not a refactor.
"""

from __future__ import annotations

import pytest

from moviestream.backfill.backfill import file_failure_key, rejects_key
from moviestream.core.envelope import EnvelopeEncoder
from moviestream.core.movie_key import movie_id, normalise_text
from moviestream.core.record import CSV_COLUMNS, event_id_for
from moviestream.pipeline.batch_pipeline import s3_batch_keys
from moviestream.pipeline.config import PipelineConfig
from moviestream.quality.dqdl import parse_ruleset
from moviestream.warehouse.contract import BatchKey
from moviestream.warehouse.redshift import RedshiftSettings, RedshiftWarehouse


@pytest.mark.parametrize(
    ("title", "year", "key"),
    [
        ("The Godfather", "1972", "a65f0288ff5dd9f5"),
        ("  the  GODFATHER ", "1972 ", "a65f0288ff5dd9f5"),  # case and spacing
        ("The\tGodfather\n", "1972", "a65f0288ff5dd9f5"),  # any whitespace
        ("Amélie", "2001", "a7b3db9ddcb026a5"),
        ("AMÉLIE", "2001", "a7b3db9ddcb026a5"),
        ("Ｌéon", "1994", "45c777e78d1eb3dc"),  # a full-width letter (NFKC)
        ("Léon", "1994", "45c777e78d1eb3dc"),
        ("Straße", "2000", "9993dff99c1e5099"),  # case folding, not lower()
        ("STRASSE", "2000", "9993dff99c1e5099"),
        ("千と千尋の神隠し", "2001", "41f19f4faad81082"),
        ("Scarface", "1932", "0fec7d9910ac7c27"),
        ("Scarface", "1983", "064283ea9bd9becf"),  # same title, another year: another movie
        (None, "PG", "7f9052c483468fa6"),  # the year column holding a certificate
        ("", "PG", "7f9052c483468fa6"),
        ("", "", "f638d19843e7c9f9"),
        (None, None, "f638d19843e7c9f9"),
    ],
)
def test_movie_id_is_pinned(title, year, key):
    assert movie_id(title, year) == key


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("  The   Godfather ", "the godfather"),
        ("Ｌéon", "léon"),
        ("Straße", "strasse"),
        ("ﬁ", "fi"),
        ("A\u00a0B", "a b"),
    ],
)
def test_normalisation_is_pinned(text, normal):
    assert normalise_text(text) == normal


GODFATHER = [
    "https://x/p.jpg",
    "The Godfather",
    "1972",
    "A",
    "175 min",
    "Crime, Drama",
    "9.2",
    "An organized crime dynasty's aging patriarch.",
    "100",
    "Francis Ford Coppola",
    "Marlon Brando",
    "Al Pacino",
    "James Caan",
    "Diane Keaton",
    "1620367",
    "134,966,411",
]


@pytest.mark.parametrize(
    ("source", "row_number", "values", "event_id"),
    [
        ("movies.csv", 1, GODFATHER, "e757d11ff00761a5eb5254156d352b01"),
        ("movies.csv", 2, GODFATHER, "14ab546025d1ab80316dfdda9fa72142"),  # the row number counts
        ("films.csv", 1, GODFATHER, "ebd5665fa10c11c1cfe91d1ff6cfed94"),  # and the file
        ("films.csv", 1, ["千と千尋の神隠し", "", ""], "c179f137debb2c79f0a5e57f2279b565"),
    ],
)
def test_event_id_is_pinned(source, row_number, values, event_id):
    assert event_id_for(source, row_number, values) == event_id


def test_the_envelope_bytes_are_pinned():
    key, body = EnvelopeEncoder("movies.csv", CSV_COLUMNS).encode(1, GODFATHER, "2026-11-22T10:00:00.000Z")
    assert key == "a65f0288ff5dd9f5"
    assert body == (
        b'{"schema_version":1,"event_id":"e757d11ff00761a5eb5254156d352b01","source":"movies.csv",'
        b'"row_number":1,"produced_at":"2026-11-22T10:00:00.000Z","fields":{"Poster_Link":"https://x/p.jpg",'
        b'"Series_Title":"The Godfather","Released_Year":"1972","Certificate":"A","Runtime":"175 min",'
        b'"Genre":"Crime, Drama","IMDB_Rating":"9.2","Overview":"An organized crime dynasty\'s aging '
        b'patriarch.","Meta_score":"100","Director":"Francis Ford Coppola","Star1":"Marlon Brando",'
        b'"Star2":"Al Pacino","Star3":"James Caan","Star4":"Diane Keaton","No_of_Votes":"1620367",'
        b'"Gross":"134,966,411"}}'
    )


STREAM = "0f7c9a1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"
CONFIG = PipelineConfig(
    job_name="moviestream-streaming",
    ruleset=parse_ruleset("Rules = [ RowCount > 0 ]"),
    bucket="b",
    warehouse_dsn="",
)


def test_the_s3_layout_is_pinned():
    assert s3_batch_keys(CONFIG, STREAM, 7, "2026-11-22") == (
        f"bad_records/ingest_date=2026-11-22/job=moviestream-streaming/batch={STREAM}-0000000007/part-00000.jsonl",
        f"rule_outcomes/ingest_date=2026-11-22/job=moviestream-streaming/batch={STREAM}-0000000007.json",
    )
    assert file_failure_key(CONFIG, "s3://moviestream-data/raw/2026/movies.csv.gz", "2026-11-22") == (
        "bad_records/ingest_date=2026-11-22/job=moviestream-streaming/"
        "batch=unreadable-file-cad83405c1455450-0000000000/file.jsonl"
    )
    assert rejects_key(CONFIG, "file-" + "ab" * 20, 3, "2026-11-22") == (
        "bad_records/ingest_date=2026-11-22/job=moviestream-streaming/"
        "batch=file-abababababababababababababababababababab-0000000003/unreadable.jsonl"
    )


def test_the_redshift_staging_layout_is_pinned():
    settings = RedshiftSettings(
        "h",
        5439,
        "dev",
        "u",
        "p",
        "arn:aws:iam::123456789012:role/r",
        "s3://moviestream-data/redshift-staging",
    )
    base = (
        f"s3://moviestream-data/redshift-staging/job=moviestream-streaming/stream={STREAM}/batch=0000000007"
    )
    uris = RedshiftWarehouse(settings, lambda: None).staging_uris(
        BatchKey("moviestream-streaming", STREAM, 7)
    )
    assert uris == (f"{base}/movies.jsonl.gz", f"{base}/genres.jsonl.gz")
