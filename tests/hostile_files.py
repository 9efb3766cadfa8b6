"""Damaged and hostile input files, built on demand (none is stored: some are large), for the
unit tests of the readers and the backfill's integration test."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
import zlib

from moviestream.core.deaggregate import MAGIC
from moviestream.core.record import CSV_COLUMNS

HEADER = ",".join(CSV_COLUMNS)


def movie_row(n: int | str) -> str:
    return (
        f'p,"Film {n}",1995,R,170 min,"Crime, Drama",8.3,"A cop and a thief",76,'
        'Mann,Al,Bob,Val,Jon,600000,"67,436,818"'
    )


def csv_bytes(rows: int, first: int = 1) -> bytes:
    return (HEADER + "\n" + "\n".join(movie_row(n) for n in range(first, first + rows)) + "\n").encode()


def truncated_gzip(data: bytes) -> bytes:
    packed = gzip.compress(data)
    return packed[: len(packed) * 2 // 3]


def bad_crc_zip(data: bytes) -> bytes:
    """A zip whose one member's stored CRC-32 is wrong (its bytes decompress fine)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("movies.csv", data)
    raw = bytearray(buffer.getvalue())
    crc = zlib.crc32(data).to_bytes(4, "little")
    wrong = bytes(b ^ 0xFF for b in crc)
    for at in (i for i in range(len(raw) - 3) if raw[i : i + 4] == crc):  # local header and directory
        raw[at : at + 4] = wrong
    return bytes(raw)


def gzip_bomb(decompressed_bytes: int) -> bytes:
    """A header row, then ``decompressed_bytes`` of zeros, gzip-compressed (about 1,000 to 1)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as z:
        z.write((HEADER + "\n").encode())
        block = b"0" * (1024 * 1024)
        for _ in range(decompressed_bytes // len(block)):
            z.write(block)
    return out.getvalue()


def binary_file(size: int = 4096) -> bytes:
    """Bytes that are no CSV: a PNG signature, then a fixed pseudo-random run."""
    state, out = 12345, bytearray(b"\x89PNG\r\n\x1a\n")
    while len(out) < size:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(state >> 16 & 0xFF)
    return bytes(out)


INSIDE_MARK = "Smuggled"


def long_field_with_rows(field_bytes: int, rows_inside: int = 5) -> bytes:
    """Two good rows, then a row whose quoted overview is ``field_bytes`` long and holds
    ``rows_inside`` valid CSV lines (titles start with INSIDE_MARK), then two good rows."""
    inside = "\n".join(
        f"p,{INSIDE_MARK} {n},1999,R,100 min,Drama,7.0,inside,70,Dir,A,B,C,D,1000,1"
        for n in range(rows_inside)
    )
    filler = "x" * max(0, field_bytes - len(inside) - 1)
    long_row = f'p,"Long",1995,R,170 min,Drama,8.3,"{filler}\n{inside}",76,Mann,Al,Bob,Val,Jon,600000,1'
    body = [movie_row("A"), movie_row("B"), long_row, movie_row("C"), movie_row("D")]
    return (HEADER + "\n" + "\n".join(body) + "\n").encode()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return _varint(tag) + _varint(len(payload)) + payload


def aggregate_of(keys: list[bytes], records: list[tuple[int, bytes]]) -> bytes:
    """A KPL aggregate written field by field, so that keys may hold any bytes."""
    body = b"".join(_field(0x0A, k) for k in keys)
    for index, data in records:
        body += _field(0x1A, b"\x08" + _varint(index) + _field(0x1A, data))
    return MAGIC + body + hashlib.md5(body).digest()  # the format's checksum
