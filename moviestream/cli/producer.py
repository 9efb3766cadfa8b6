"""``moviestream replay``, ``generate`` and ``from-vega-movies``: replay a movies CSV into
Kinesis, or write a synthetic or a real-films movies CSV.

Exit codes (ExitCode): 0 everything sent; 1 some records dead-lettered; 2 usage or input error
(nothing sent); 130 interrupted (what was read was flushed, a resume checkpoint was written).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from moviestream.cli.exit_codes import ExitCode, fail
from moviestream.cli.options import read_limit_options
from moviestream.core import logs
from moviestream.core.config import AwsConfigError, AwsSettings, describe_endpoint, resource_names


@click.command("replay")
@click.argument("location", required=False)
@click.option(
    "--stream-name", default=resource_names()["stream_name"], show_default=True, envvar="MOVIESTREAM_STREAM"
)
@click.option("--aggregate/--no-aggregate", default=True, show_default=True, help="KPL-format aggregation.")
@click.option(
    "--max-buffer-ms",
    type=click.FloatRange(min=0),
    default=100.0,
    show_default=True,
    help="Longest a record waits in a buffer before it is sent (the KPL's RecordMaxBufferedTime).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Rows per second (default: as fast as the stream takes them).",
)
@click.option(
    "--speedup",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Pace by row order: row i is due i / (RATE x SPEEDUP) s after the start (RATE defaults to 1).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many rows.")
@click.option("--loop", is_flag=True, help="Start over at the end of the file (until --limit or Ctrl-C).")
@click.option("--resume", is_flag=True, help="Continue after the last row acknowledged by an earlier run.")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Resume checkpoint [default: .local/producer/checkpoints/<file name>.json].",
)
@click.option(
    "--from-dead-letter",
    "dead_letter_input",
    type=click.Path(path_type=Path),
    default=None,
    help="Resend the records of this dead-letter file instead of reading a CSV.",
)
@click.option(
    "--rejects",
    "rejects_file",
    type=click.Path(path_type=Path),
    default=Path(".local/producer/rejects.jsonl"),
    show_default=True,
)
@click.option(
    "--dead-letter",
    type=click.Path(path_type=Path),
    default=Path(".local/producer/dead-letter.jsonl"),
    show_default=True,
)
@click.option(
    "--max-attempts",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="PutRecords attempts per record before it is dead-lettered.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="CPU count",
    help="Processes building envelopes and aggregates (bulk replays: no --rate, --limit or --loop).",
)
@click.option(
    "--chunk-kib",
    type=click.IntRange(min=16, max=1024 * 1024),
    default=4096,
    show_default=True,
    help="KiB of the file each worker parses at a time (bulk replays): smaller spreads a small file "
    "over more workers.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as one JSON object on stdout.")
@read_limit_options
def replay_cmd(
    location: str | None,
    stream_name: str,
    aggregate: bool,
    max_buffer_ms: float,
    rate: float | None,
    speedup: float | None,
    limit: int | None,
    loop: bool,
    resume: bool,
    checkpoint_file: Path | None,
    dead_letter_input: Path | None,
    rejects_file: Path,
    dead_letter: Path,
    max_attempts: int,
    workers: int,
    chunk_kib: int,
    as_json: bool,
    max_field_bytes: int,
    max_row_bytes: int,
) -> None:
    """Replay LOCATION (a CSV path or s3:// URI) into the Kinesis stream."""
    logs.configure()
    from moviestream.core.csv_source import InputError, ReadLimits
    from moviestream.producer.progress import ProgressReporter
    from moviestream.producer.replay import replay, resend_dead_letters, source_name
    from moviestream.producer.sink import KinesisSink

    limits = ReadLimits(field_bytes=max_field_bytes, row_bytes=max_row_bytes)
    _check_inputs(location, dead_letter_input, loop=loop, resume=resume, limits=limits)
    client = _reachable_stream(stream_name)

    def make_sink(on_done):
        return KinesisSink(
            client,
            stream_name,
            aggregate=aggregate,
            max_buffer_ms=max_buffer_ms,
            max_attempts=max_attempts,
            dead_letter=dead_letter,
            on_done=on_done,
        )

    stop = _stop_on_signals()
    pace = (rate or 1.0) * speedup if speedup else rate
    with ProgressReporter(enabled=not as_json or sys.stderr.isatty()) as progress:
        try:
            if dead_letter_input is not None:
                summary = resend_dead_letters(dead_letter_input, make_sink)
            else:
                assert location is not None
                default_checkpoint = Path(".local/producer/checkpoints") / f"{source_name(location)}.json"
                summary = replay(
                    location,
                    make_sink,
                    rejects_file=rejects_file,
                    checkpoint_file=checkpoint_file or default_checkpoint,
                    resume=resume,
                    limit=limit,
                    rate=pace,
                    loop=loop,
                    workers=workers,
                    chunk_bytes=chunk_kib * 1024,
                    limits=limits,
                    stop=stop,
                    on_progress=progress.update,
                )
        except InputError as exc:
            fail(str(exc))
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        logs.get("producer").info("replay_done", **summary.as_dict())
    if summary.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(ExitCode.FAILED if summary.dead_lettered else ExitCode.OK)


def _check_inputs(
    location: str | None, dead_letter_input: Path | None, *, loop: bool, resume: bool, limits: Any
) -> None:
    """The flags agree and the file is a movies CSV (its header and first bytes), before any send."""
    from moviestream.core.csv_source import InputError, check_input

    if (location is None) == (dead_letter_input is None):
        fail("give either a CSV LOCATION or --from-dead-letter FILE")
    if loop and resume:
        fail("--loop and --resume cannot be combined")
    if location is not None:
        try:
            check_input(location, limits)
        except InputError as exc:
            fail(str(exc))


def _reachable_stream(stream_name: str) -> Any:  # a boto3 Kinesis client
    aws = AwsSettings()
    try:
        client = aws.client("kinesis")
    except AwsConfigError as exc:
        fail(str(exc))
    try:
        # Two attempts, not the sink's five: an endpoint that is down is told in a second or two,
        # not after the SDK's back-off (about 19 s).
        aws.client("kinesis", attempts=2).describe_stream_summary(StreamName=stream_name)
    except Exception as exc:  # any failure here means the stream is unusable
        fail(
            f"Kinesis stream {stream_name!r} is not reachable at {describe_endpoint(client)}: "
            f"{str(exc).splitlines()[0]}"
        )
    return client


def _stop_on_signals() -> threading.Event:
    """Set on the first Ctrl-C or SIGTERM (what is in flight is flushed); a second one exits at once."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: give up at once
            sys.exit(ExitCode.INTERRUPTED)
        logs.get("producer").warning(
            "stopping", signal=signal.Signals(signum).name, note="flushing what is in flight"
        )
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


@click.command("generate")
@click.option("--rows", type=click.IntRange(min=0), required=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--defect-rate", type=click.FloatRange(0.0, 1.0), default=0.1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def generate_cmd(rows: int, seed: int, defect_rate: float, out: Path) -> None:
    """Write a synthetic movies CSV (deterministic for a seed)."""
    logs.configure()
    from moviestream.core.generate import generate

    counts = generate(out, rows, seed=seed, defect_rate=defect_rate)
    click.echo(json.dumps({"out": str(out), "rows": rows, "defects": counts}))


@click.command("from-vega-movies")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
def from_vega_movies_cmd(source: Path, out: Path) -> None:
    """Convert vega-datasets' data/movies.json (real films) into the 16-column movies CSV."""
    logs.configure()
    from moviestream.producer.vega_movies import read_films, write_csv

    try:
        films = read_films(source)
    except ValueError as exc:
        fail(str(exc))
    click.echo(json.dumps({"out": str(out), "rows": write_csv(films, out)}))
