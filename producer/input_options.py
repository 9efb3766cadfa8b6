"""--max-field-bytes and --max-row-bytes: the caps both CSV readers share (producer/csv_source.py),
as options of every command that reads CSV files (the producer's replay, the backfill)."""

from __future__ import annotations

from typing import Any

import click

from producer.csv_source import DEFAULT_FIELD_BYTES, DEFAULT_ROW_BYTES


def read_limit_options(command: Any) -> Any:  # a click command
    command = click.option(
        "--max-row-bytes",
        type=click.IntRange(min=1),
        default=DEFAULT_ROW_BYTES,
        show_default=True,
        help="A CSV record longer than this ends its file: it and the rest are one reject.",
    )(command)
    return click.option(
        "--max-field-bytes",
        type=click.IntRange(min=1),
        default=DEFAULT_FIELD_BYTES,
        show_default=True,
        help="A CSV field longer than this rejects its row; reading goes on.",
    )(command)
