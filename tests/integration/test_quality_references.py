"""Reference datasets read from where a deployment keeps them: an S3 object and a warehouse table."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from moviestream.core.config import AwsSettings
from moviestream.quality.dqdl import parse_ruleset
from moviestream.quality.evaluate import rule_outcomes
from moviestream.quality.reference_sources import ReferenceLoadError, ReferenceSet, parse_bindings
from moviestream.warehouse.targets import query_rows
from tests.integration.databases import fresh_warehouse

CERTIFICATES = Path(__file__).parents[2] / "data" / "references" / "certificates.csv"
RULES = """Rules = [
    ReferentialIntegrity "certificate" "s3_csv.code" = 1.0,
    ReferentialIntegrity "certificate" "s3_parquet.code" = 1.0,
    ReferentialIntegrity "certificate" "table.code" >= 0.5,
    RowCountMatch "table" = 2.0
]"""


@pytest.fixture(scope="module")
def sources(stack):
    s3 = AwsSettings().client("s3")
    bucket = f"refs-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="references/certificates.csv", Body=CERTIFICATES.read_bytes())
    parquet = io.BytesIO()
    pq.write_table(pa.table({"code": ["PG", "R", "G"]}), parquet)
    s3.put_object(Bucket=bucket, Key="references/mpa.parquet", Body=parquet.getvalue())
    dsn = fresh_warehouse(stack)
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE movies.certificate_codes (code VARCHAR(16) PRIMARY KEY, since INT)")
        conn.execute("INSERT INTO movies.certificate_codes VALUES ('PG', 1984), ('R', 1968)")
    yield bucket, dsn
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)


def test_references_from_s3_and_the_warehouse_judge_the_rules(spark, sources):
    bucket, dsn = sources
    bindings = parse_bindings(
        [
            f"s3_csv=s3://{bucket}/references/certificates.csv",
            f"s3_parquet=s3://{bucket}/references/mpa.parquet",
            "table=warehouse:movies.certificate_codes",
        ]
    )
    refs = ReferenceSet(
        spark, bindings, s3_client=lambda: AwsSettings().client("s3"), query=lambda sql: query_rows(dsn, sql)
    ).current()
    assert refs["table"].columns == ["code", "since"] and refs["table"].count() == 2
    films = spark.createDataFrame([("PG",), ("R",), ("G",), (None,)], "certificate string")
    outcomes = rule_outcomes(films, parse_ruleset(RULES), references=refs)
    assert [o["Outcome"] for o in outcomes] == ["Passed"] * 4, outcomes
    assert outcomes[2]["EvaluatedMetrics"] == {"Column.table.ReferentialIntegrity": pytest.approx(2 / 3)}


def test_a_reference_that_cannot_be_read_is_one_line(spark, sources):
    bucket, dsn = sources
    for binding, message in [
        (
            f"x=s3://{bucket}/references/missing.csv",
            f"reference 'x' (s3://{bucket}/references/missing.csv): ",
        ),
        ("x=warehouse:movies.no_such_table", "reference 'x' (warehouse:movies.no_such_table): "),
    ]:
        refs = ReferenceSet(
            spark,
            parse_bindings([binding]),
            s3_client=lambda: AwsSettings().client("s3"),
            query=lambda sql: query_rows(dsn, sql),
        )
        with pytest.raises(ReferenceLoadError) as err:
            refs.current()
        assert str(err.value).startswith(message) and "\n" not in str(err.value)
