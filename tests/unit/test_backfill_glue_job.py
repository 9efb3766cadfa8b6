"""The backfill's Glue entry without Glue: its arguments, and the state machine that starts it."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from moviestream.backfill.state_machine import PLACEHOLDERS, render, template
from moviestream.glue.backfill_job import (
    OPTIONAL_ARGUMENTS,
    REQUIRED_ARGUMENTS,
    ReplayOptions,
    backfill_options,
    replay_options,
)
from moviestream.glue.streaming_job import resolve_arguments
from moviestream.warehouse.quarantine_store import Selection


def args(**overrides: str) -> dict[str, str]:
    return {**OPTIONAL_ARGUMENTS, "input_uri": "s3://data/raw/movies.csv", **overrides}


def test_defaults_read_each_file_as_of_its_modification_time_in_chunks_of_100000():
    options = backfill_options(args())
    assert (options.input_uri, options.chunk_rows, options.as_of, options.force) == (
        "s3://data/raw/movies.csv",
        100_000,
        None,
        False,
    )


def test_the_input_caps_default_to_the_local_commands_and_can_be_set():
    from moviestream.backfill.inputs import ArchiveLimits
    from moviestream.core.csv_source import ReadLimits

    assert (backfill_options(args()).limits, backfill_options(args()).archive) == (
        ReadLimits(),
        ArchiveLimits(),
    )
    options = backfill_options(args(max_field_bytes="1000", max_row_bytes="5000", max_decompressed_bytes="9"))
    assert (options.limits.field_bytes, options.limits.row_bytes, options.archive.decompressed_bytes) == (
        1000,
        5000,
        9,
    )


def test_as_of_is_converted_to_utc_and_force_is_a_boolean():
    options = backfill_options(args(as_of="2020-01-01T02:00:00+02:00", force="TRUE", chunk_rows="10"))
    assert options.as_of == datetime(2020, 1, 1) and options.force and options.chunk_rows == 10


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"input_uri": "raw/movies.csv"}, "--input_uri must be an s3:// URI"),
        ({"chunk_rows": "many"}, "--chunk_rows must be a whole number"),
        ({"chunk_rows": "0"}, "--chunk_rows must be at least 1"),
        ({"as_of": "yesterday"}, "--as_of is not an ISO-8601 time"),
        ({"as_of": "2020-01-01T00:00:00"}, "--as_of needs a UTC offset"),
        ({"force": "yes"}, "--force must be true or false"),
        ({"max_row_bytes": "lots"}, "--max_row_bytes must be a number, not 'lots'"),
        ({"max_field_bytes": "0"}, "the field and row caps must be at least 1 byte"),
        ({"max_compression_ratio": "1"}, "--max-compression-ratio above 1"),
    ],
)
def test_a_wrong_argument_is_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        backfill_options(args(**overrides))


def test_the_replay_mode_reads_its_selection_fixes_and_flags():
    selection = json.dumps({"rule": ">= 8.5", "since": "2026-12-01T02:00:00+02:00", "ids": ["A" * 64]})
    options = replay_options(
        args(mode="replay", replay_selection=selection, dry_run="TRUE", chunk_records="50")
    )
    assert options == ReplayOptions(
        Selection(rule=">= 8.5", since=datetime(2026, 12, 1), ids=("a" * 64,)), None, True, 50, None
    )
    fixed = replay_options(args(fixes_uri="s3://b/fixes.jsonl", replay_by="arn:aws:iam::1:user/ana"))
    assert (fixed.selection, fixed.fixes_uri, fixed.by) == (
        Selection(),
        "s3://b/fixes.jsonl",
        "arn:aws:iam::1:user/ana",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "select the records to replay"),
        ({"replay_selection": "[1]"}, r"--replay_selection must be a JSON object, not '\[1\]'"),
        ({"replay_selection": "{rule"}, "--replay_selection must be a JSON object"),
        ({"replay_selection": '{"rules": "x"}'}, "--replay_selection: unknown 'rules'; use job, status,"),
        ({"replay_selection": '{"rule": 5}'}, "every filter but ids is a text"),
        ({"replay_selection": '{"ids": "abc"}'}, "ids is a list of quarantine ids"),
        ({"replay_selection": '{"since": "2026-12-01"}'}, "--replay_selection since needs a UTC offset"),
        (
            {"replay_selection": '{"status": "replayed"}'},
            "only open or still_bad records replay, not replayed",
        ),
        ({"fixes_uri": "fixes.csv"}, "--fixes_uri must be an s3://bucket/key URI"),
        ({"fixes_uri": "s3://b/f", "dry_run": "maybe"}, "--dry_run must be true or false"),
        ({"fixes_uri": "s3://b/f", "chunk_records": "0"}, "--chunk_records must be at least 1"),
    ],
)
def test_a_wrong_replay_argument_is_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        replay_options(args(mode="replay", **overrides))


def test_only_optional_arguments_that_were_passed_are_asked_of_glue():
    asked = []

    def get_resolved_options(argv, names):
        asked.append(names)
        return {n: f"value of {n}" for n in names}

    argv = ["script.py", "--JOB_NAME", "j", "--input_uri", "s3://b/k", "--force", "true"]
    resolved = resolve_arguments(argv, get_resolved_options, REQUIRED_ARGUMENTS, OPTIONAL_ARGUMENTS)
    assert asked == [[*REQUIRED_ARGUMENTS, "input_uri", "force"]]
    assert (
        resolved["chunk_rows"] == OPTIONAL_ARGUMENTS["chunk_rows"] and resolved["force"] == "value of force"
    )


def test_the_state_machine_template_has_exactly_the_placeholders_terraform_fills():
    text = template()
    for name in PLACEHOLDERS:
        assert "${" + name + "}" in text
    rendered = json.loads(render("moviestream-backfill", 'arn:aws:sns:eu-west-1:123456789012:alerts"x'))
    assert "${" not in json.dumps(rendered)
    states = rendered["States"]
    run = states["RunBackfill"]
    assert run["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert run["Parameters"]["JobName"] == "moviestream-backfill"
    assert set(run["Parameters"]["Arguments"]) == {"--input_uri.$"}
    assert states["NotifyFailure"]["Parameters"]["TopicArn"].endswith('alerts"x')  # escaped, not broken


def test_every_state_is_reachable_and_every_path_ends():
    states = json.loads(render("job", "arn:aws:sns:us-east-1:000000000000:t"))
    graph = {}
    for name, state in states["States"].items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        graph[name] = {t for t in targets if t}
        assert state.get("End") or state["Type"] in ("Succeed", "Fail") or graph[name], name
    seen, todo = set(), [states["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    assert seen == set(states["States"])


def test_a_rendered_template_with_an_unknown_placeholder_is_refused(monkeypatch):
    import moviestream.backfill.state_machine as sm

    monkeypatch.setattr(sm, "template", lambda: '{"x": "${region}"}')
    with pytest.raises(ValueError, match="unknown placeholder"):
        sm.render("job", "topic")


ASL_VALIDATOR = Path(__file__).parents[2] / "tools" / "asl" / "node_modules" / ".bin" / "asl-validator"


def asl_validate(definition: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    assert ASL_VALIDATOR.exists(), (
        "asl-validator is not installed: run `make test` (it runs npm ci in tools/asl)"
    )
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    return subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.tools
def test_the_state_machine_passes_asl_validator(tmp_path):
    """asl-validator: the States Language's JSON schema plus transition and reachability checks."""
    definition = json.loads(render("moviestream-backfill", "arn:aws:sns:us-east-1:000000000000:alerts"))
    checked = asl_validate(definition, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.tools
def test_asl_validator_would_catch_a_broken_transition(tmp_path):
    definition = json.loads(render("moviestream-backfill", "arn:aws:sns:us-east-1:000000000000:alerts"))
    definition["States"]["RunBackfill"]["Next"] = "NotifySucess"  # a typo'd state name
    checked = asl_validate(definition, tmp_path)
    assert checked.returncode != 0
    assert "MISSING_TRANSITION_TARGET" in checked.stdout + checked.stderr
