"""Builders for test inputs and small tools (not fixtures: plain functions any test can call)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from moviestream.core.envelope import envelope_json
from moviestream.core.record import CSV_COLUMNS

SHARD = "shardId-000000000000"


def movie_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "Poster_Link": "https://p/1.jpg",
        "Series_Title": "The Godfather",
        "Released_Year": "1972",
        "Certificate": "A",
        "Runtime": "175 min",
        "Genre": "Crime, Drama",
        "IMDB_Rating": "9.2",
        "Overview": "An organized crime dynasty's aging patriarch...",
        "Meta_score": "100",
        "Director": "Francis Ford Coppola",
        "Star1": "Marlon Brando",
        "Star2": "Al Pacino",
        "Star3": "James Caan",
        "Star4": "Diane Keaton",
        "No_of_Votes": "1620367",
        "Gross": "134,966,411",
    }
    fields.update(overrides)
    assert set(CSV_COLUMNS) <= set(fields) or overrides.get("_allow_missing")
    return fields


def envelope(
    event_id: str,
    fields: dict[str, str],
    row_number: int = 1,
    produced_at: str = "2026-11-22T10:00:00.000Z",
    schema_version: int = 1,
) -> bytes:
    return envelope_json(event_id, "t.csv", row_number, produced_at, fields, schema_version)


def bare_env(**values: str) -> dict[str, str]:
    """An environment of ``values`` and a PATH, nothing inherited but coverage's own variables,
    so a measured test run measures the process it starts too."""
    measured = {k: v for k, v in os.environ.items() if k.startswith("COVERAGE_")}
    return {"PATH": "/usr/bin:/bin", **measured, **values}


def source_rows(payloads: list[bytes], shard: str = SHARD) -> list[tuple]:
    """Rows in the Kinesis source schema, one per payload, in stream order."""
    base = 49_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000
    now = datetime(2026, 11, 22, 10, 0, 1)
    return [(shard, str(base + i), "pk", now, p) for i, p in enumerate(payloads)]


def terraform_value(work: Path, expression: str) -> Any:
    """An expression evaluated by Terraform itself in the configuration in ``work``, through
    ``terraform console`` (expressions only: no provider is needed or downloaded)."""
    result = subprocess.run(
        ["terraform", f"-chdir={work}", "console"],
        input=f"jsonencode({expression})\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TF_DATA_DIR": str(work / ".terraform")},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout.strip().splitlines()[-1]))


def terraform_outputs(module: Path, work: Path, variables: dict[str, Any]) -> tuple[bool, Any]:
    """A provider-free module applied by Terraform itself, in a copy under ``work``: (True, its
    outputs) or (False, the error Terraform printed). Nothing is downloaded: such a module needs
    no provider, so init only writes the lock-free working directory."""
    import shutil

    shutil.copytree(module, work)
    (work / "terraform.tfvars.json").write_text(json.dumps(variables))
    env = {**os.environ, "TF_DATA_DIR": str(work / ".terraform"), "TF_IN_AUTOMATION": "1"}

    def terraform(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["terraform", f"-chdir={work}", *args, "-no-color"],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip

    init = terraform("init", "-backend=false", "-input=false")
    assert init.returncode == 0, init.stderr
    apply = terraform("apply", "-auto-approve", "-input=false")
    if apply.returncode != 0:
        return False, " ".join(apply.stderr.split())
    shown = terraform("output", "-json")
    return True, {name: o["value"] for name, o in json.loads(shown.stdout).items()}
