"""``python -m producer``: replay a movies CSV into Kinesis, or generate synthetic data.

Exit codes: 0 ok, 1 some records were dead-lettered, 2 usage or input error.
"""

from __future__ import annotations

import json
import sys
from enum import IntEnum
from pathlib import Path

import click

from moviestream import logs
from moviestream.config import AwsSettings, resource_names


class ExitCode(IntEnum):
    OK = 0
    DEAD_LETTERED = 1
    INPUT_ERROR = 2


@click.group()
def cli() -> None:
    """Replay movies into Kinesis, or generate a synthetic movies CSV."""
    logs.configure()


@cli.command("replay")
@click.argument("location")
@click.option(
    "--stream-name", default=resource_names()["stream_name"], show_default=True, envvar="MOVIESTREAM_STREAM"
)
@click.option("--aggregate/--no-aggregate", default=True, show_default=True, help="KPL-format aggregation.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many rows.")
@click.option(
    "--max-buffer-ms",
    type=click.FloatRange(min=0),
    default=100.0,
    show_default=True,
    help="Longest a record waits in an aggregate before it is sent (like the KPL's RecordMaxBufferedTime).",
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
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as one JSON object on stdout.")
def replay_cmd(
    location: str,
    stream_name: str,
    aggregate: bool,
    limit: int | None,
    max_buffer_ms: float,
    rejects_file: Path,
    dead_letter: Path,
    as_json: bool,
) -> None:
    """Replay LOCATION (a CSV path or s3:// URI) into the Kinesis stream."""
    from producer.csv_source import InputError, check_input
    from producer.kinesis_sink import KinesisSink
    from producer.replay import replay

    log = logs.get("producer")
    try:
        check_input(location)
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.INPUT_ERROR)
    aws = AwsSettings()
    client = aws.client("kinesis")
    try:
        sink = KinesisSink(
            client, stream_name, aggregate=aggregate, max_buffer_ms=max_buffer_ms, dead_letter=dead_letter
        )
    except Exception as exc:  # noqa: BLE001 - any failure here means the stream is unusable
        click.echo(
            f"error: Kinesis stream {stream_name!r} is not reachable at {aws.endpoint_url or 'AWS'}: "
            f"{str(exc).splitlines()[0]}",
            err=True,
        )
        sys.exit(ExitCode.INPUT_ERROR)
    try:
        summary = replay(
            location,
            sink,
            rejects_file=rejects_file,
            limit=limit,
            on_progress=lambda s: log.info(
                "progress", rows_read=s.rows_read, user_records_sent=s.user_records_sent
            ),
        )
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.INPUT_ERROR)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        log.info("replay_done", **summary.as_dict())
    sys.exit(ExitCode.DEAD_LETTERED if summary.dead_lettered else ExitCode.OK)


@cli.command("generate")
@click.option("--rows", type=click.IntRange(min=0), required=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--defect-rate", type=click.FloatRange(0.0, 1.0), default=0.1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def generate_cmd(rows: int, seed: int, defect_rate: float, out: Path) -> None:
    """Write a synthetic movies CSV (deterministic for a seed)."""
    from producer.generate import generate

    counts = generate(out, rows, seed=seed, defect_rate=defect_rate)
    click.echo(json.dumps({"out": str(out), "rows": rows, "defects": counts}))


def main() -> None:
    cli()
