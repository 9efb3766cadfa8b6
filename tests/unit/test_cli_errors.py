"""User errors give one clear line on stderr, no traceback, and a non-zero exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from moviestream.core.record import CSV_COLUMNS
from tests.helpers import bare_env

pytestmark = pytest.mark.tools

ROOT = Path(__file__).parents[2]


UNREACHABLE_AWS = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
}


def run(*args: str, aws: dict[str, str] = UNREACHABLE_AWS) -> subprocess.CompletedProcess:
    # An unreachable endpoint: nothing here may need a service to report an input error.
    env = bare_env(
        **({"HOME": "/tmp", "MOVIESTREAM_WAREHOUSE_DSN": "postgresql://postgres@127.0.0.1:9/x"} | aws)
    )
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``moviestream ARGS`` in this process (click's runner), as a finished process looks: its
    exit code, stdout and stderr. A command that needs Spark borrows the tests' shared session
    (moviestream.core.spark.command_session) instead of starting a JVM of its own."""
    from click.testing import CliRunner

    from moviestream.cli import main

    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(["moviestream", *args], result.exit_code, result.stdout, result.stderr)


def one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    assert lines and lines[-1].startswith("error: ") and fragment in lines[-1], proc.stderr


@pytest.fixture
def missing_column_csv(tmp_path) -> Path:
    path = tmp_path / "missing.csv"
    path.write_text(",".join(c for c in CSV_COLUMNS if c != "IMDB_Rating") + "\n")
    return path


def test_producer_missing_column(missing_column_csv):
    one_line_error(run("moviestream", "replay", str(missing_column_csv)), "missing column(s) IMDB_Rating")


def test_producer_missing_file(tmp_path):
    proc = run("moviestream", "replay", str(tmp_path / "nope.csv"))
    one_line_error(proc, "file not found")
    assert proc.returncode == 2


def test_producer_unreachable_endpoint(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(",".join(CSV_COLUMNS) + "\n")
    one_line_error(run("moviestream", "replay", str(path)), "is not reachable at http://127.0.0.1:9")


@pytest.mark.parametrize("command", ["replay", "job"])
def test_no_region_is_one_line(tmp_path, command):
    """Without a region nothing falls back to the local stack's: the user is told what to set."""
    path = tmp_path / "ok.csv"
    path.write_text(",".join(CSV_COLUMNS) + "\n")
    args = (str(path),) if command == "replay" else ()
    proc = run("moviestream", command, *args, aws={"AWS_CONFIG_FILE": "/nonexistent", "HOME": str(tmp_path)})
    one_line_error(proc, "no AWS region: set AWS_REGION")


def test_demo_rejects_bad_inputs_before_starting_anything(missing_column_csv, tmp_path):
    one_line_error(
        run("moviestream", "stack", "demo", "--data", str(missing_column_csv)),
        "missing column(s) IMDB_Rating",
    )
    rules = tmp_path / "bad.dqdl"
    rules.write_text("Rules = [ IsComplete ]")
    one_line_error(run("moviestream", "stack", "demo", "--rules", str(rules)), "line 1, column 22")


def test_job_with_unreachable_services_is_one_line():
    one_line_error(run("moviestream", "job"), "is not reachable")


def test_job_with_missing_ruleset(tmp_path):
    one_line_error(
        run("moviestream", "job", "--ruleset", str(tmp_path / "x.dqdl")),
        "ruleset file not found",
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("apply",), "cannot connect to the warehouse"),
        (("apply", "--dsn", "redshift://u:p@h/dev?iam_role=admin&staging_uri=s3://b1x/p"), "not an IAM role ARN"),
        (
            ("check", "--dsn", "redshift://u:p@127.0.0.1:9/dev?iam_role=arn:aws:iam::123456789012:role/r"
             "&staging_uri=s3://b1x/p"),
            "cannot connect to Redshift",
        ),
        (("query", "nope"), "unknown view 'nope'"),
        (("apply", "--data-api"), "--data-api needs --workgroup and --database"),
        (("apply", "--workgroup", "wg"), "go with --data-api"),
        (("apply", "--grant-role", "moviestream-glue-jobs"), "applies to Redshift only"),
        (("apply", "--data-api", "--workgroup", "wg", "--database", "db"), "Redshift Data API batch_execute_statement failed"),
    ],
)  # fmt: skip
def test_warehouse_cli_errors(args, fragment):
    one_line_error(run("moviestream", "warehouse", *args), fragment)


TYPO_DSN = "redshfit://loader:S3cretPw@warehouse.example:5439/movies"  # the scheme mistyped


@pytest.mark.parametrize(
    "command",
    [
        ("warehouse", "check"),
        ("warehouse", "query", "top_rated"),
        ("warehouse", "apply"),
        ("warehouse", "refresh"),
        ("health", "page", "--out", "/tmp/moviestream-health-typo.html"),
        ("backfill", "data/movies_sample.csv"),
        ("job",),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_mistyped_dsn_is_one_line_without_its_password(command):
    """In the environment, as the issue reproduced it, and as a flag (which also warns that a
    password on the command line shows in `ps`)."""
    from_env = run("moviestream", *command, aws=UNREACHABLE_AWS | {"MOVIESTREAM_WAREHOUSE_DSN": TYPO_DSN})
    assert from_env.returncode != 0
    assert "S3cretPw" not in from_env.stdout + from_env.stderr
    assert from_env.stderr.strip().splitlines() == [
        "error: the warehouse DSN redshfit://warehouse.example:5439/movies is neither postgresql://… nor"
        ' redshift://…: missing "=" after "redshfit://loader:***@warehouse.example:5439/movies" in'
        " connection info string"
    ]
    flag = "--dsn" if command[0] == "warehouse" else "--warehouse-dsn"
    from_flag = run("moviestream", *command, flag, TYPO_DSN)
    assert from_flag.returncode != 0 and "S3cretPw" not in from_flag.stdout + from_flag.stderr
    warning, error = from_flag.stderr.strip().splitlines()
    assert warning.startswith(f"warning: {flag} holds a password, which shows in `ps`")
    assert error == from_env.stderr.strip()
