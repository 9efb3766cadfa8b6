"""Every file of the malformed-input corpus gives its documented outcome and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from moviestream.core.config import AwsSettings

ROOT = Path(__file__).parents[2]
CORPUS = ROOT / "tests" / "data" / "malformed"
CASES = json.loads((CORPUS / "cases.json").read_text())


@pytest.fixture(scope="module")
def stream_name(stack):
    name = f"malformed-{uuid.uuid4().hex[:8]}"
    client = AwsSettings().client("kinesis")
    client.create_stream(StreamName=name, ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    yield name
    client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_corpus_is_large_enough():
    assert len(CASES) >= 15


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_file(name, stream_name, tmp_path):
    case = CASES[name]
    rejects = tmp_path / "rejects.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "moviestream",
            "replay",
            str(CORPUS / name),
            "--stream-name",
            stream_name,
            "--json",
            "--rejects",
            str(rejects),
            "--checkpoint",
            str(tmp_path / "c.json"),
            "--dead-letter",
            str(tmp_path / "dl.jsonl"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == case["exit_code"], proc.stderr
    assert "Traceback" not in proc.stderr
    if case["exit_code"] == 2:
        errors = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("error: ") and case["stderr"] in errors[0]
        assert not rejects.exists()
        return
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["user_records_sent"] == case["rows_sent"]
    assert summary["rows_rejected"] == case["rows_rejected"]
    if case["rows_rejected"]:
        lines = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
        assert len(lines) == case["rows_rejected"]
        assert all(line["reason"] and line["line_number"] >= 2 for line in lines)
