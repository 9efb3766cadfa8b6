"""Stream rows out of a movies CSV without loading it, separating unreadable rows (rejects).

Handles quoted commas and quotes, embedded newlines, a UTF-8 BOM and CRLF (the csv module does the
quoting; we open in binary and decode ourselves so that undecodable bytes reject one row, not
the file).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from moviestream.record import CSV_COLUMNS


class InputError(ValueError):
    """The file as a whole cannot be replayed (missing, unreadable, wrong header)."""


@dataclass(frozen=True, slots=True)
class Row:
    row_number: int  # 1 = first data row
    line_number: int  # physical line where the row ends
    header: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reject:
    row_number: int
    line_number: int
    reason: str
    raw: str


def open_input(location: str) -> BinaryIO:
    if location.startswith("s3://"):
        from moviestream.config import AwsSettings

        bucket, _, key = location[5:].partition("/")
        s3 = AwsSettings().client("s3")
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as exc:  # noqa: BLE001 - botocore raises many types; all mean "cannot read"
            raise InputError(f"cannot read {location}: {str(exc).splitlines()[0]}") from exc
    path = Path(location)
    if not path.exists():
        raise InputError(f"file not found: {location}")
    if not path.is_file():
        raise InputError(f"not a file: {location}")
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise InputError(f"cannot read {location}: {exc.strerror}") from exc


def _has_undecodable(values: list[str]) -> bool:
    return any("\udc80" <= ch <= "\udcff" for v in values for ch in v)


def read_rows(stream: BinaryIO, location: str) -> Iterator[Row | Reject]:
    """Yield each data row or a Reject with its reason. Raises InputError for a bad header."""
    # utf-8-sig drops a leading BOM; surrogateescape keeps bad bytes visible per row.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text, strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{location}: the file is empty (no header row)") from None
    except csv.Error as exc:
        raise InputError(f"{location}: cannot read the header: {exc}") from None
    header = [h.strip() for h in header]
    if _has_undecodable(header):
        raise InputError(f"{location}: the header is not valid UTF-8")
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{location}: missing column(s) {', '.join(missing)} (expected the 16 IMDb columns)")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise InputError(f"{location}: duplicated column(s) {', '.join(duplicated)}")
    header_t = tuple(header)
    row_number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row_number += 1
            yield Reject(row_number, reader.line_num, f"unreadable CSV: {exc}", "")
            continue
        if not values:
            continue  # blank line
        row_number += 1
        raw = ",".join(values)
        if _has_undecodable(values):
            yield Reject(
                row_number,
                reader.line_num,
                "undecodable bytes (not UTF-8)",
                raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
            )
        elif len(values) != len(header_t):
            yield Reject(
                row_number, reader.line_num, f"expected {len(header_t)} fields, found {len(values)}", raw
            )
        else:
            yield Row(row_number, reader.line_num, header_t, tuple(values))


def check_input(location: str) -> None:
    """Fail fast (InputError) on a missing file or a bad header, before anything is sent."""
    with open_input(location) as stream:
        first = next(read_rows(stream, location), None)
        del first
