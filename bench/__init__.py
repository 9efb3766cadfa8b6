"""Benchmarks: each prints its figures and writes them as JSON (``results_path``). ``make bench-*``
runs them at full size; ``tests/integration/test_benchmarks.py`` runs each once at a tiny scale
(the sizes come from ``BENCH_*`` variables) into a folder of its own, so the recorded full-size
figures are never overwritten by a smoke run."""

from __future__ import annotations

import os
from pathlib import Path


def results_path(name: str) -> Path:
    """Where a benchmark writes its JSON: ``$BENCH_RESULTS_DIR/<name>.json``, by default
    bench/results/."""
    return Path(os.environ.get("BENCH_RESULTS_DIR", "bench/results")) / f"{name}.json"


def own_bucket(tag: str) -> str:
    """A bucket of the benchmark's own (its bad records and rule outcomes stay out of the user's)."""
    import uuid

    from moviestream.core.config import AwsSettings

    bucket = f"bench-{tag}-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    return bucket


def remove_bucket(bucket: str) -> None:
    """Delete a benchmark's bucket with everything in it."""
    from moviestream.core.config import AwsSettings

    s3 = AwsSettings().client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)
