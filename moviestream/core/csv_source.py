"""Stream rows out of a movies CSV without loading it, separating unreadable rows (rejects).

Handles quoted commas and quotes, embedded newlines, a UTF-8 BOM and CRLF (the csv module does the
quoting; we open in binary and decode ourselves so that undecodable bytes reject one row, not
the file).
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, repeat
from pathlib import Path
from typing import BinaryIO

from moviestream.core.record import CSV_COLUMNS


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


# I/O, pinned by the integration tier (local files and LocalStack's S3), not by make mutate.
class _StreamingBodyIO(io.RawIOBase):  # pragma: no mutate block
    """botocore's StreamingBody as a raw binary stream (what io.BufferedReader wants)."""

    def __init__(self, body) -> None:  # botocore.response.StreamingBody
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # a writable bytes-like object
        chunk = self._body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._body.close()
        super().close()


def open_input(location: str) -> BinaryIO:  # pragma: no mutate block (I/O: see _StreamingBodyIO)
    """Open a local path or an s3:// URI as a binary stream; InputError if it cannot be read."""
    if location.startswith("s3://"):
        from moviestream.core.config import AwsSettings

        bucket, _, key = location[5:].partition("/")
        try:
            body = AwsSettings().client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as exc:  # botocore raises many types; all mean "cannot read"
            raise InputError(f"cannot read {location}: {str(exc).splitlines()[0]}") from exc
        # A buffered stream over the HTTP body: read in chunks, never the whole object.
        return io.BufferedReader(_StreamingBodyIO(body), buffer_size=1024 * 1024)
    path = Path(location)
    if not path.exists():
        raise InputError(f"file not found: {location}")
    if not path.is_file():
        raise InputError(f"not a file: {location}")
    try:
        return open(path, "rb")  # the caller closes it
    except OSError as exc:
        raise InputError(f"cannot read {location}: {exc.strerror}") from exc


# Caps on what one row may hold, shared by both readers (this one and moviestream/producer/parallel.py) and
# set by the flags of the commands that read files. A movie's overview may legitimately be long, so
# the field cap is generous; a record over Kinesis's 1 MiB is still rejected later with that reason.
DEFAULT_FIELD_BYTES = 16 * 1024 * 1024
DEFAULT_ROW_BYTES = 32 * 1024 * 1024
REJECT_RAW_BYTES = 64 * 1024  # how much of an unreadable row its reject keeps


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """A field over ``field_bytes`` rejects its row and reading goes on. A record over
    ``row_bytes`` (an unclosed quote, a file with no line ends) ends what can be trusted: the rest
    of the file is one reject, and no row is ever made out of a field's insides."""

    field_bytes: int = DEFAULT_FIELD_BYTES
    row_bytes: int = DEFAULT_ROW_BYTES
    raw_bytes: int = REJECT_RAW_BYTES

    def __post_init__(self) -> None:
        if self.field_bytes < 1 or self.row_bytes < 1 or self.raw_bytes < 0:
            raise ValueError("the field and row caps must be at least 1 byte")


DEFAULT_LIMITS = ReadLimits()

# The csv module's own field limit (128 KiB by default) is lifted: a field can never be longer
# than its record, which _Lines caps in bytes, and a csv.Error mid-field would leave the reader
# inside the quoted field, reading its lines as rows.
csv.field_size_limit(sys.maxsize)

# Bytes that are not UTF-8 decode (surrogateescape) to lone surrogates U+DC80..U+DCFF.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
# A carriage return that does not start a CRLF ends a line, as universal newlines read it.
_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")
_BOM = b"\xef\xbb\xbf"


def _has_undecodable(values: list[str]) -> bool:
    return _UNDECODABLE.search("".join(values)) is not None


def has_undecodable_text(text: str) -> bool:
    """False if no row of this text can hold undecodable bytes (one scan instead of one per row)."""
    return _UNDECODABLE.search(text) is not None


class RowTooLong(Exception):
    """A record grew past the row cap before it ended."""


_BLOCK = 1024 * 1024


class _Lines:
    """The stream's physical lines as text, for csv.reader, read a block at a time and split
    with universal newlines (LF, CRLF, a lone CR), as a text file opened with newline="" reads
    them. The bytes of the record being read are capped: csv.reader pulls lines only until its
    record ends, so ``record_done`` after each record tells where the next one starts, and a
    record still open past the row cap raises RowTooLong before more of it is read."""

    def __init__(self, stream: BinaryIO, limits: ReadLimits) -> None:
        self._stream = stream
        self._cap = limits.row_bytes
        self._raw_cap = limits.raw_bytes
        self.record_offset = 0  # where the record being read starts (bytes, after a BOM)
        self.record_line = 1  # ...and its first line
        self._ends: list[int] = [0]  # end offset of each line of the current block, after its start
        self._first_line = 1  # the current block's first line number
        self._blocks: list[tuple[int, bytes]] = []  # (offset, bytes) read since the record began
        self.lines = self._generate()

    def _generate(self) -> Iterator[str]:
        pending = b""
        offset = 0  # of pending's first byte
        next_line = 1  # the number of the next block's first line
        first = True
        while True:
            block = self._stream.read(_BLOCK)
            if first:
                first = False
                while 0 < len(block) < len(_BOM) and (more := self._stream.read(_BLOCK)):
                    block += more  # a short first read may split the BOM
                # An empty block means the end of the file: after a BOM, read on.
                block = block.removeprefix(_BOM) or self._stream.read(_BLOCK)
            data = pending + block
            if not data:
                return
            cut = len(data) if not block else data.rfind(b"\n") + 1
            if cut == 0:  # no LF yet: a lone CR may still end a line (not the last byte: CRLF?)
                cut = data.rfind(b"\r", 0, len(data) - 1) + 1
            if cut == 0:
                pending = data
                self._remember(offset, b"")
                if offset + len(pending) - self.record_offset > self._cap:
                    self._blocks.append((offset, pending))
                    raise RowTooLong
                continue
            body, pending = data[:cut], data[cut:]
            if offset - self.record_offset > self._cap:  # the open record's lines so far
                raise RowTooLong
            raw_lines = body.splitlines(keepends=True)  # bytes: LF, CR and CRLF only
            # Set together, and kept until the next block replaces them: a last line without a line
            # end is only complete when the reader has asked for one more line (and got none).
            self._ends = list(accumulate(map(len, raw_lines), initial=offset))
            self._first_line, next_line = next_line, next_line + len(raw_lines)
            self._remember(offset, body)
            lines = list(map(bytes.decode, raw_lines, repeat("utf-8"), repeat("surrogateescape")))
            offset += cut
            yield from lines

    def _remember(self, offset: int, body: bytes) -> None:
        """Keep the blocks the open record spans, for its reject's raw text."""
        self._blocks = [(o, b) for o, b in self._blocks if o + len(b) > self.record_offset]
        if body:
            self._blocks.append((offset, body))

    def record_done(self, line_number: int) -> int:
        """The record that ended on ``line_number`` is read: its size in bytes."""
        end = self._ends[line_number - self._first_line + 1]
        size = end - self.record_offset
        self.record_offset, self.record_line = end, line_number + 1
        return size

    def raw_text(self) -> str:
        """The open record's first bytes (up to the raw cap), bad bytes shown as U+FFFD."""
        raw = b"".join(b for _, b in self._blocks)
        start = self.record_offset - (self._blocks[0][0] if self._blocks else 0)
        return raw[start : start + self._raw_cap].decode("utf-8", "replace")


def read_rows(stream: BinaryIO, location: str, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[Row | Reject]:
    """Yield each data row or a Reject with its reason. Raises InputError for a bad header.

    A record the csv module cannot read, or one over the row cap, ends the file: it and the rest
    of the file are one Reject (the csv module would go on at the next physical line, which may
    be inside a quoted field, and read that field's lines as rows)."""
    lines = _Lines(stream, limits)
    reader = csv.reader(lines.lines, strict=False)
    try:
        header = next(reader)
        too_long = lines.record_done(reader.line_num) > limits.row_bytes
    except StopIteration:
        raise InputError(f"{location}: the file is empty (no header row)") from None
    except RowTooLong:
        too_long = True
    except csv.Error as exc:
        raise InputError(f"{location}: cannot read the header: {exc}") from None
    if too_long:
        raise InputError(f"{location}: the header is over the row cap of {limits.row_bytes} bytes")
    header_t = check_header(header, location)
    row_number = 0
    while True:
        start_line, start_offset = lines.record_line, lines.record_offset
        try:
            values = next(reader)
            size = lines.record_done(reader.line_num)
            if size > limits.row_bytes:
                raise RowTooLong
        except StopIteration:
            return
        except (csv.Error, RowTooLong) as exc:
            lines.record_offset = start_offset  # the raw text starts at the record
            yield unreadable_rest(row_number + 1, start_line, start_offset, exc, limits, lines.raw_text())
            return
        if not values:
            continue  # blank line
        row_number += 1
        # Only a record longer than the field cap can hold a field longer than it.
        field_bytes = limits.field_bytes if size > limits.field_bytes else None
        yield classify(row_number, reader.line_num, header_t, values, field_bytes=field_bytes, limits=limits)


def unreadable_rest(
    row_number: int, line_number: int, offset: int, exc: Exception, limits: ReadLimits, raw: str
) -> Reject:
    """The reject that ends a file: the record starting at ``line_number`` and everything after it."""
    if isinstance(exc, RowTooLong):
        what = f"the record is over the row cap of {limits.row_bytes} bytes"
    else:
        what = f"unreadable CSV: {exc}"
    reason = (
        f"{what} (row {row_number}, from line {line_number}, byte {offset}); the rest of the file is not read"
    )
    return Reject(row_number, line_number, reason, raw)


# The first bytes of files people mistake for a plain UTF-8 CSV, as the reader decodes them
# (each byte that is not UTF-8 becomes a lone surrogate, U+DC00 + the byte; 0x1f is ASCII).
_NOT_PLAIN_UTF8 = (
    ("\x1f\udc8b", " (it is gzip-compressed: decompress it, or load it with moviestream backfill)"),
    ("\udcff\udcfe", " (it is UTF-16: save it as UTF-8)"),
    ("\udcfe\udcff", " (it is UTF-16: save it as UTF-8)"),
)


def _what_it_is(first_field: str) -> str:
    return next((hint for start, hint in _NOT_PLAIN_UTF8 if first_field.startswith(start)), "")


def check_header(raw: list[str], location: str) -> tuple[str, ...]:
    """The header's column names, or InputError if a required one is missing or one repeats."""
    header = [h.strip() for h in raw]
    if _has_undecodable(header):
        raise InputError(f"{location}: the header is not valid UTF-8{_what_it_is(raw[0] if raw else '')}")
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{location}: missing column(s) {', '.join(missing)} (expected the 16 IMDb columns)")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise InputError(f"{location}: duplicated column(s) {', '.join(duplicated)}")
    return tuple(header)


def classify(
    row_number: int,
    line_number: int,
    header: tuple[str, ...],
    values: list[str],
    *,
    check_bytes: bool = True,
    field_bytes: int | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Row | Reject:
    """A parsed CSV record as a Row, or a Reject with its reason.

    ``check_bytes=False`` skips the undecodable-bytes check, for callers that scanned the whole text.
    ``field_bytes``: the field cap, for callers whose record may be longer than it (None: it cannot).
    """
    if len(values) != len(header):
        reason = f"expected {len(header)} fields, found {len(values)}"
        return Reject(row_number, line_number, reason, _printable(values, limits))
    if field_bytes is not None and (too_long := _over_cap(header, values, field_bytes)):
        return Reject(row_number, line_number, too_long, _printable(values, limits))
    if check_bytes and _has_undecodable(values):
        return Reject(row_number, line_number, "undecodable bytes (not UTF-8)", _printable(values, limits))
    return Row(row_number, line_number, header, tuple(values))


def _over_cap(header: tuple[str, ...], values: list[str], cap: int) -> str | None:
    """The reason the row's first field over ``cap`` bytes (UTF-8, bad bytes one each) gives."""
    for name, value in zip(header, values, strict=True):
        if len(value) * 4 > cap:  # a character is at most 4 bytes: most values need no encoding
            size = len(value.encode("utf-8", "surrogateescape"))
            if size > cap:
                return f"field {name} is {size} bytes, over the field cap of {cap}"
    return None


def _printable(values: list[str], limits: ReadLimits = DEFAULT_LIMITS) -> str:
    """The row as text for the rejects file (up to the raw cap), bad bytes shown as U+FFFD."""
    text = ",".join(values).encode("utf-8", "surrogateescape")[: limits.raw_bytes]
    return text.decode("utf-8", "replace")


def check_input(location: str, limits: ReadLimits = DEFAULT_LIMITS) -> None:  # pragma: no mutate block (I/O)
    """Fail fast (InputError) on a missing file or a bad header, before anything is sent."""
    with open_input(location) as stream:
        first = next(read_rows(stream, location, limits), None)
        del first
