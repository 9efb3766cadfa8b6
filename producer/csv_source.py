"""Stream rows out of a movies CSV without loading it, separating unreadable rows (rejects).

Handles quoted commas and quotes, embedded newlines, a UTF-8 BOM and CRLF (the csv module does the
quoting; we open in binary and decode ourselves so that undecodable bytes reject one row, not
the file).
"""

from __future__ import annotations

import csv
import io
import re
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


class _StreamingBodyIO(io.RawIOBase):
    """botocore's StreamingBody as a raw binary stream (what io.BufferedReader wants)."""

    def __init__(self, body) -> None:  # noqa: ANN001 - botocore.response.StreamingBody
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable bytes-like object
        chunk = self._body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._body.close()
        super().close()


def open_input(location: str) -> BinaryIO:
    """Open a local path or an s3:// URI as a binary stream; InputError if it cannot be read."""
    if location.startswith("s3://"):
        from moviestream.config import AwsSettings

        bucket, _, key = location[5:].partition("/")
        try:
            body = AwsSettings().client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as exc:  # noqa: BLE001 - botocore raises many types; all mean "cannot read"
            raise InputError(f"cannot read {location}: {str(exc).splitlines()[0]}") from exc
        # A buffered stream over the HTTP body: read in chunks, never the whole object.
        return io.BufferedReader(_StreamingBodyIO(body), buffer_size=1024 * 1024)
    path = Path(location)
    if not path.exists():
        raise InputError(f"file not found: {location}")
    if not path.is_file():
        raise InputError(f"not a file: {location}")
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise InputError(f"cannot read {location}: {exc.strerror}") from exc


# The csv module refuses fields over 128 KiB by default; a movie's overview may legitimately be
# longer. Records over Kinesis's 1 MiB are rejected later with that reason.
csv.field_size_limit(16 * 1024 * 1024)

# Bytes that are not UTF-8 decode (surrogateescape) to lone surrogates U+DC80..U+DCFF.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _has_undecodable(values: list[str]) -> bool:
    return _UNDECODABLE.search("".join(values)) is not None


def has_undecodable_text(text: str) -> bool:
    """False if no row of this text can hold undecodable bytes (one scan instead of one per row)."""
    return _UNDECODABLE.search(text) is not None


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
    header_t = check_header(header, location)
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
        yield classify(row_number, reader.line_num, header_t, values)


def check_header(raw: list[str], location: str) -> tuple[str, ...]:
    """The header's column names, or InputError if a required one is missing or one repeats."""
    header = [h.strip() for h in raw]
    if _has_undecodable(header):
        raise InputError(f"{location}: the header is not valid UTF-8")
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{location}: missing column(s) {', '.join(missing)} (expected the 16 IMDb columns)")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise InputError(f"{location}: duplicated column(s) {', '.join(duplicated)}")
    return tuple(header)


def classify(
    row_number: int, line_number: int, header: tuple[str, ...], values: list[str], *, check_bytes: bool = True
) -> Row | Reject:
    """A parsed CSV record as a Row, or a Reject with its reason.

    ``check_bytes=False`` skips the undecodable-bytes check, for callers that scanned the whole text.
    """
    if len(values) != len(header):
        reason = f"expected {len(header)} fields, found {len(values)}"
        return Reject(row_number, line_number, reason, _printable(values))
    if check_bytes and _has_undecodable(values):
        return Reject(row_number, line_number, "undecodable bytes (not UTF-8)", _printable(values))
    return Row(row_number, line_number, header, tuple(values))


def _printable(values: list[str]) -> str:
    """The row as text for the rejects file, bad bytes shown as U+FFFD."""
    return ",".join(values).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def check_input(location: str) -> None:
    """Fail fast (InputError) on a missing file or a bad header, before anything is sent."""
    with open_input(location) as stream:
        first = next(read_rows(stream, location), None)
        del first
