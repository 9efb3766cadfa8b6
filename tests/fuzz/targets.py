"""Fuzz targets over the pure-Python parsers of outside input, with the accounting as the
invariant, not only "no crash":

- ``kinesis``: de-aggregation plus movie_key. Every user record of a Kinesis record comes out
  exactly once, as a record to judge or as a bad record with a non-empty reason; nothing raises;
  an aggregate whose framing is intact comes out as exactly the records written into it.
- ``csv``: both CSV readers (moviestream/core/csv_source.py and moviestream/producer/parallel.py). They agree row for
  row; rows plus rejects equal what an oracle counts (Python's csv module with no field limit);
  every row equals the oracle's record at its place, so no row is made out of a field's insides;
  only InputError may be raised.
- ``archive``: the backfill's gzip and zip readers. Only InputError may be raised, and what they
  yield is what the CSV reader yields for the decompressed bytes.

Each target takes the fuzzer's bytes; ``python -m tests.fuzz`` runs them under atheris, and
tests/fuzz/test_fuzz.py replays the kept cases (tests/data/fuzz/<target>/) and a short seeded run.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import tempfile
import zipfile
from pathlib import Path

import orjson

from moviestream.core.csv_source import InputError, ReadLimits, Reject, Row, read_rows
from moviestream.core.deaggregate import MAGIC, deaggregate, is_aggregated
from moviestream.core.record import CSV_COLUMNS
from moviestream.core.transform import movie_key
from moviestream.producer import parallel
from tests.hostile_files import aggregate_of

# Small caps, so that a few KiB of input reach them.
LIMITS = ReadLimits(field_bytes=300, row_bytes=2_000, raw_bytes=200)
HEADER = ",".join(CSV_COLUMNS).encode()


class Broken(AssertionError):
    """An invariant does not hold: the fuzzer reports the input as a crash."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise Broken(message)


# --- kinesis --------------------------------------------------------------------------------------


def _take(data: bytes, at: int, size: int) -> tuple[bytes, int]:
    return data[at : at + size], at + size


def kinesis(data: bytes) -> None:
    """The first byte picks the shape: an aggregate built from the rest (keys, indexes, payloads
    from the input), whole or damaged; the raw bytes as a Kinesis record; or the raw bytes framed
    as an aggregate with a valid checksum (whatever protobuf makes of them)."""
    if not data:
        return
    mode, rest = data[0], data[1:]
    if mode % 4 == 0:  # raw bytes, as an outsider could put them on the stream
        _account(rest, None, rest)
        return
    if mode % 4 == 3:  # the raw bytes framed as an aggregate: magic, then a valid MD5 over them
        _account(MAGIC + rest + hashlib.md5(rest).digest(), None, None)  # MD5 is the format's
        return
    keys, records, at = [], [], 0
    key_count = rest[0] % 4 if rest else 0
    at = 1
    for _ in range(key_count):
        size = rest[at] % 8 if at < len(rest) else 0
        key, at = _take(rest, at + 1, size)
        keys.append(key)
    while at < len(rest):
        index = rest[at] % 6
        size = rest[at + 1] % 64 if at + 1 < len(rest) else 0
        payload, at = _take(rest, at + 2, size)
        records.append((index, payload))
    blob = aggregate_of(keys, records)
    if mode % 4 == 2 and len(blob) > 1:  # damaged after it was framed: one bit flipped
        flip = rest[-1] % len(blob) if rest else 0
        blob = blob[:flip] + bytes([blob[flip] ^ 0x01]) + blob[flip + 1 :]
        _account(blob, None, None)
        return
    _account(blob, (keys, records), None)


def _account(
    blob: bytes, written: tuple[list[bytes], list[tuple[int, bytes]]] | None, plain: bytes | None
) -> None:
    out = list(deaggregate(blob, "outer-key"))
    _check(len(out) >= 1, "a Kinesis record vanished")
    for i, rec in enumerate(out):
        _check(rec.sub_sequence_number == i, "sub-sequence numbers must count the user records")
        _check(rec.error is None or bool(rec.error.strip()), "a bad record needs a reason")
        _check(rec.partition_key is None or isinstance(rec.partition_key, str), "keys must be text")
        if rec.error is None:
            key = movie_key(rec.payload)  # must never raise
            _check(key is None or len(key) == 16, "movie_key is 16 hex characters or None")
    if plain is not None and not blob.startswith(MAGIC):
        _check(len(out) == 1 and out[0].payload == plain, "a plain record passes through whole")
    if written is not None and not is_aggregated(blob):  # an empty body: no aggregate at all
        _check(len(out) == 1 and out[0].payload == blob and out[0].error is None, "a plain record passes")
    elif written is not None:
        keys, records = written
        if not records:
            _check(len(out) == 1 and out[0].error == "KPL aggregate holds no user records", "empty aggregate")
            return
        _check(len(out) == len(records), f"{len(records)} user records written, {len(out)} read")
        for rec, (index, payload) in zip(out, records, strict=True):
            _check(rec.payload == payload, "a user record's payload changed")
            valid_key = index < len(keys) and _valid_key(keys[index])
            _check((rec.error is None) == valid_key, f"key {index} of {len(keys)}: error {rec.error!r}")


def _valid_key(key: bytes) -> bool:
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return 1 <= len(text) <= 256


# --- csv ------------------------------------------------------------------------------------------


def csv_file(data: bytes) -> bytes:
    """The input as a movies CSV: the real header, unless the input's first byte asks for none."""
    if data[:1] == b"\x00":
        return data[1:]
    return HEADER + b"\n" + data


def _oracle(file: bytes) -> tuple[list[list[str]] | None, bool]:
    """(the non-blank data records, whether the csv module stopped with an error) as Python's csv
    module reads the file with no field limit (csv_source lifts it for the whole process)."""
    text = io.TextIOWrapper(io.BytesIO(file), encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text, strict=False)
    records: list[list[str]] = []
    try:
        header = next(reader, None)
        if header is None:
            return None, False
        for values in reader:
            if values:
                records.append(values)
    except csv.Error:
        return records, True
    return records, False


def _sequential(file: bytes) -> list[Row | Reject] | InputError:
    try:
        return list(read_rows(io.BytesIO(file), "fuzz.csv", LIMITS))
    except InputError as exc:
        return exc


def _chunked(file: bytes) -> list[tuple] | InputError:
    """The parallel reader's rows and rejects, in-process, falling back as replay does."""
    try:
        header, chunks = parallel.split(io.BytesIO(file), "fuzz.csv", LIMITS)
    except InputError as exc:
        return exc
    ctx = parallel.Context("fuzz.csv", "fuzz.csv", header, (0,), ("s0",), False, 0, LIMITS)
    items: list[tuple] = []
    for chunk in chunks:
        result = parallel.process_chunk((chunk, ctx))
        if result.mismatch:
            rest = _sequential(file)
            assert not isinstance(rest, InputError)
            return items + [_key(r) for r in rest if r.row_number >= result.first_row]
        items += [("reject", r["row_number"], r["reason"]) for r in result.rejects]
        for _, entry in result.entries:
            doc = orjson.loads(entry.data)
            items.append(("row", doc["row_number"], tuple(doc["fields"].values())))
    return sorted(items, key=lambda item: item[1])


def _key(item: Row | Reject) -> tuple:
    if isinstance(item, Reject):
        return ("reject", item.row_number, item.reason)
    return ("row", item.row_number, item.values)


def csv_readers(data: bytes) -> None:
    file = csv_file(data)
    items = _sequential(file)
    chunked = _chunked(file)
    if isinstance(items, InputError):
        _check(isinstance(chunked, InputError), f"only the sequential reader refused the file: {items}")
        return
    _check(not isinstance(chunked, InputError), f"only the parallel reader refused the file: {chunked}")
    # (The parallel reader also rejects rows over Kinesis's 1 MiB; under the fuzz caps none is.)
    _check(chunked == [_key(i) for i in items], "the two readers disagree")
    records, stopped = _oracle(file)
    assert records is not None
    numbers = [i.row_number for i in items]
    _check(numbers == list(range(1, len(items) + 1)), "row numbers must count every record once")
    rest = (
        items
        and isinstance(items[-1], Reject)
        and items[-1].reason.endswith("the rest of the file is not read")
    )
    if rest:
        _check(len(items) - 1 <= len(records), "more records than the oracle before the cut")
    else:
        _check(not stopped, "the oracle stopped with an error the reader did not report")
        _check(len(items) == len(records), f"rows + rejects {len(items)} != oracle's {len(records)}")
    for item in items:
        if isinstance(item, Row):
            _check(list(item.values) == records[item.row_number - 1], f"row {item.row_number} differs")
            _check(
                all(len(v.encode("utf-8", "surrogateescape")) <= LIMITS.field_bytes for v in item.values),
                "cap",
            )
        else:
            _check(bool(item.reason.strip()), "a reject needs a reason")
            _check(len(item.raw.encode()) <= LIMITS.raw_bytes * 3, "a reject's raw text is capped")


# --- archives -------------------------------------------------------------------------------------


def archive(data: bytes) -> None:
    """The first byte picks gzip or zip around a CSV made of the rest; a second byte, when the
    input has one, damages the stored bytes at a position it picks."""
    from moviestream.backfill.inputs import ArchiveLimits, InputFile, rows_of

    if len(data) < 2:
        return
    mode, damage, body = data[0], data[1], csv_file(data[2:])
    if mode % 2 == 0:
        stored = gzip.compress(body, compresslevel=1)
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("movies.csv", body)
        stored = buffer.getvalue()
    if damage % 4 == 0:  # leave it whole
        damaged = False
    else:
        damaged = True
        at = (damage * 7919) % len(stored)
        if damage % 4 == 3:  # truncated
            stored = stored[:at]
        else:  # one byte changed
            stored = stored[:at] + bytes([stored[at] ^ (damage | 1)]) + stored[at + 1 :]
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / ("f.csv.gz" if mode % 2 == 0 else "f.zip")
        path.write_bytes(stored)
        limits = ArchiveLimits(decompressed_bytes=1_000_000, ratio=1_000)
        try:
            got = [_key(i) for i in rows_of(InputFile(str(path)), limits=LIMITS, archive=limits)]
        except InputError:
            if not damaged:
                expected = _sequential(body)
                _check(isinstance(expected, InputError), "a whole archive was refused")
            return
    if not damaged:
        expected = _sequential(body)
        _check(not isinstance(expected, InputError), "a refused CSV read from an archive")
        _check(got == [_key(i) for i in expected], "an archive reads differently from its CSV")


TARGETS = {"kinesis": kinesis, "csv": csv_readers, "archive": archive}
