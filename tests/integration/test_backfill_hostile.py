"""The backfill over a folder of one good file and damaged or hostile ones: the good file loads
in full, nothing from inside an over-long field loads, each bad file is named once with its
reason (no traceback) and recorded as a file-level bad record, the run exits 1 at the end, and a
decompression bomb costs the driver no memory (peak RSS, VmHWM from /proc)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from moviestream.core.config import AwsSettings
from moviestream.core.generate import generate
from tests.hostile_files import (
    INSIDE_MARK,
    bad_crc_zip,
    binary_file,
    gzip_bomb,
    long_field_with_rows,
    truncated_gzip,
)
from tests.integration.databases import fresh_warehouse
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
GOOD_ROWS = 400


def _folder(path: Path, bomb: bool) -> Path:
    path.mkdir()
    generate(path / "a_good.csv", GOOD_ROWS, seed=11, defect_rate=0.0)
    good = (path / "a_good.csv").read_bytes()
    (path / "b_truncated.csv.gz").write_bytes(truncated_gzip(good))
    (path / "c_bad_crc.zip").write_bytes(bad_crc_zip(good))
    (path / "d_long_field.csv").write_bytes(long_field_with_rows(17 * 1024 * 1024))
    (path / "f_binary.csv").write_bytes(binary_file())
    if bomb:
        (path / "e_bomb.csv.gz").write_bytes(gzip_bomb(256 * 1024 * 1024))
    return path


def _peak_rss_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return int(line.split()[1]) if line else None


def _backfill(folder: Path, dsn: str, bucket: str) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, the driver's peak RSS in KiB, read from /proc until it exits)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "moviestream", "backfill", str(folder), "--warehouse-dsn", dsn, "--bucket", bucket,
         "--as-of", "2020-01-01T00:00:00Z", "--job-name", f"hostile-{uuid.uuid4().hex[:6]}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    peak = [0]

    def finished() -> bool:  # sampling the driver's memory meanwhile
        peak[0] = max(peak[0], _peak_rss_kib(proc.pid) or 0)
        return proc.poll() is not None

    wait_for(finished, 600, "the backfill finished", interval_s=0.05)
    out, err = proc.communicate()
    return proc.returncode, out, err, peak[0]


def _target(stack) -> tuple[str, str]:
    dsn = fresh_warehouse(stack)
    bucket = f"bfh-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    return dsn, bucket


def test_damaged_and_hostile_files_never_stop_the_backfill(stack, tmp_path):
    dsn, bucket = _target(stack)
    code, out, err, peak_with_bomb = _backfill(_folder(tmp_path / "with-bomb", bomb=True), dsn, bucket)
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 1, err
    assert "Traceback" not in err and "Aborted" not in err
    assert summary["files"] == 6 and summary["files_failed"] == 4
    reasons = {Path(f["file"]).name: f["reason"] for f in summary["failures"]}
    assert set(reasons) == {"b_truncated.csv.gz", "c_bad_crc.zip", "e_bomb.csv.gz", "f_binary.csv"}
    assert "damaged gzip" in reasons["b_truncated.csv.gz"] and "EOFError" in reasons["b_truncated.csv.gz"]
    assert "Bad CRC-32" in reasons["c_bad_crc.zip"]
    assert "decompression bomb" in reasons["e_bomb.csv.gz"]
    assert "the header is not valid UTF-8" in reasons["f_binary.csv"]
    for name, reason in reasons.items():  # one line each, naming the file
        assert err.count(f"error: {reason}") == 1 and name in reason and "\n" not in reason
    assert (
        err.strip().splitlines()[-1]
        == "error: 4 of 6 files could not be read (2 loaded); each is a bad record with its reason"
    )

    with psycopg.connect(dsn) as conn:
        titles = [t for (t,) in conn.execute("SELECT series_title FROM movies.imdb_movies_rating")]
    assert not any(INSIDE_MARK in t for t in titles), "rows were made out of a field's insides"
    assert {"Film A", "Film B", "Film C", "Film D"} <= set(titles)
    assert summary["good_records"] == len(titles) == GOOD_ROWS + 4
    assert summary["rejected_rows"] == 1  # the long field's row, with the field cap's reason

    s3 = AwsSettings().client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="bad_records/").get("Contents", [])]
    file_failures = [
        json.loads(line)
        for key in keys
        if key.endswith("/file.jsonl")
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
    ]
    assert sorted(d["source"] for d in file_failures) == sorted(reasons)
    assert all(d["failure_scope"] == "file" and d["reasons"] == [reasons[d["source"]]] for d in file_failures)
    # Every bad-record line, the unreadable files' and rows' too, is in the quarantine index.
    lines = {
        (f"s3://{bucket}/{key}", n): json.loads(line)["reasons"]
        for key in keys
        for n, line in enumerate(s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines(), start=1)
    }
    with psycopg.connect(dsn) as conn:
        indexed = {
            (u, n): json.loads(r)
            for u, n, r in conn.execute("SELECT s3_uri, line_number, reasons FROM movies.quarantine")
        }
    assert indexed == lines and len(lines) == 5, (indexed, lines)  # 4 unreadable files, 1 unreadable row

    dsn2, bucket2 = _target(stack)
    code2, _, err2, peak_without = _backfill(_folder(tmp_path / "without-bomb", bomb=False), dsn2, bucket2)
    assert code2 == 1, err2
    print(
        f"driver peak RSS (VmHWM): {peak_with_bomb // 1024} MiB with the bomb, {peak_without // 1024} MiB without"
    )
    assert peak_with_bomb - peak_without < 100 * 1024, (peak_with_bomb, peak_without)
