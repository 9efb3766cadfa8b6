"""Backfill inputs in S3 (LocalStack): a prefix of files, a gzip file, a manifest beside it."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid

import pytest

from moviestream.backfill.inputs import ManifestMismatch, list_inputs, rows_of, verify
from moviestream.core.config import AwsSettings
from moviestream.core.csv_source import InputError, Row
from moviestream.core.record import CSV_COLUMNS


def test_a_prefix_of_files_in_s3(stack):
    s3 = AwsSettings().client("s3")
    bucket = f"raw-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    data = ("\n".join([",".join(CSV_COLUMNS), ",".join(["x"] * len(CSV_COLUMNS))]) + "\n").encode()
    stored = gzip.compress(data)
    s3.put_object(Bucket=bucket, Key="raw/2026/b.csv.gz", Body=stored)
    s3.put_object(Bucket=bucket, Key="raw/2026/a.csv", Body=data)
    s3.put_object(Bucket=bucket, Key="raw/2026/readme.txt", Body=b"not data")
    manifest = {"file": "b.csv.gz", "rows": 1, "sha256": hashlib.sha256(stored).hexdigest()}
    s3.put_object(Bucket=bucket, Key="raw/2026/b.csv.gz.manifest.json", Body=json.dumps(manifest).encode())

    files = list_inputs(f"s3://{bucket}/raw/")
    assert [f.uri for f in files] == [f"s3://{bucket}/raw/2026/a.csv", f"s3://{bucket}/raw/2026/b.csv.gz"]
    assert verify(files[1]) == manifest["sha256"]
    assert [r.values[0] for r in rows_of(files[1]) if isinstance(r, Row)] == ["x"]

    s3.put_object(
        Bucket=bucket,
        Key="raw/2026/b.csv.gz.manifest.json",
        Body=json.dumps({**manifest, "rows": 2}).encode(),
    )
    with pytest.raises(ManifestMismatch, match="2 rows but the file has 1"):
        verify(files[1])
    with pytest.raises(InputError, match="no CSV files"):
        list_inputs(f"s3://{bucket}/nothing/")
