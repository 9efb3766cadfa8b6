"""What a backfill reads: one CSV or a folder/prefix of them, local or in S3, plain, gzip or zip,
each verified against its manifest when one lies beside it.

Archives are streamed: gzip through the decompressor, a zip's one member straight out of the zip
(an S3 zip is first spooled to a temporary file, never into memory, since a zip's directory is at
its end). Damage (a truncated gzip, a bad CRC, a broken zip) is an InputError naming the file and
how far it was read, and decompressed bytes are capped (ArchiveLimits), so a decompression bomb
is refused after a bounded amount of work and memory.

A manifest is ``<file>.manifest.json``: ``{"file": "<name>", "rows": <data rows>, "sha256":
"<hex of the file's bytes as stored>"}``. A file whose manifest disagrees is refused with what
differs, before a single row is loaded. The sha256 of the stored bytes is also the file's
identity for the ledger: the same content is the same backfill, whatever its name.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol, cast

from moviestream.core.csv_source import (
    DEFAULT_LIMITS,
    InputError,
    ReadLimits,
    Reject,
    Row,
    open_input,
    read_rows,
)

CSV_SUFFIXES = (".csv", ".csv.gz", ".gz", ".zip")
MANIFEST_SUFFIX = ".manifest.json"
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


class ManifestMismatch(InputError):
    """The file is not what its manifest says."""


# A CSV compresses about 5-15 to 1; far more is a decompression bomb. The ratio is judged only
# past RATIO_GRACE_BYTES, so a small file of repeated values is never refused for it.
DEFAULT_DECOMPRESSED_BYTES = 64 * 1024**3
DEFAULT_COMPRESSION_RATIO = 200.0
RATIO_GRACE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what one compressed file may decompress to (flags of the backfill)."""

    decompressed_bytes: int = DEFAULT_DECOMPRESSED_BYTES
    ratio: float = DEFAULT_COMPRESSION_RATIO

    def __post_init__(self) -> None:
        if self.decompressed_bytes < 1 or self.ratio <= 1:
            raise ValueError(
                "--max-decompressed-bytes must be at least 1 and --max-compression-ratio above 1"
            )


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()
# What the decompressors raise on damaged input: a truncated stream (EOFError), a bad header or
# CRC (BadGzipFile, BadZipFile), a corrupt deflate stream (zlib.error), an encrypted member or an
# unknown compression method (RuntimeError, NotImplementedError), a bad size field (OSError).
_DAMAGE = (EOFError, zlib.error, OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError, ValueError)


@dataclass(frozen=True)
class InputFile:
    uri: str  # a local path or s3://bucket/key

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    @property
    def manifest_uri(self) -> str:
        return self.uri + MANIFEST_SUFFIX


def _is_data_file(name: str) -> bool:
    return name.lower().endswith(CSV_SUFFIXES) and not name.endswith(MANIFEST_SUFFIX)


def list_inputs(location: str) -> list[InputFile]:
    """The CSV files a location names: a file, or every data file in a folder or under an S3
    prefix (ending in /), sorted by name. InputError when there is none."""
    if location.startswith("s3://"):
        files = _list_s3(location)
    else:
        path = Path(location)
        if path.is_dir():
            files = [
                InputFile(str(p)) for p in sorted(path.iterdir()) if p.is_file() and _is_data_file(p.name)
            ]
        elif path.is_file():
            files = [InputFile(str(path))]
        else:
            raise InputError(f"file not found: {location}")
    if not files:
        raise InputError(f"no CSV files (.csv, .csv.gz, .gz, .zip) at {location}")
    return files


def _list_s3(location: str) -> list[InputFile]:
    from moviestream.core.config import AwsSettings

    bucket, _, key = location[5:].partition("/")
    if key and not key.endswith("/"):
        return [InputFile(location)]
    keys: list[str] = []
    try:
        pages = AwsSettings().client("s3").get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=bucket, Prefix=key):
            keys.extend(o["Key"] for o in page.get("Contents", []) if _is_data_file(o["Key"]))
    except Exception as exc:  # botocore raises many types; all mean "cannot list"
        raise InputError(f"cannot list {location}: {str(exc).splitlines()[0]}") from exc
    return [InputFile(f"s3://{bucket}/{k}") for k in sorted(keys)]


def sha256_of(file: InputFile) -> str:
    """The hex sha256 of the file's bytes as stored (compressed files are not decompressed)."""
    digest = hashlib.sha256()
    with open_input(file.uri) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Readable(Protocol):
    """Any binary stream to read from (a file, a decompressor, a metered stream)."""

    def read(self, size: int = -1, /) -> bytes: ...


class ReadMeter:
    """How many of a file's stored bytes were read so far (the progress of reading it)."""

    def __init__(self) -> None:
        self.bytes_read = 0


class _Metered(io.BufferedIOBase):
    """A buffered binary stream that counts the bytes read through it into a ReadMeter."""

    def __init__(self, inner: BinaryIO, meter: ReadMeter) -> None:
        self._inner = inner
        self._meter = meter

    def readable(self) -> bool:
        return True

    def peek(self, size: int = 0) -> bytes:
        return self._inner.peek(size)  # type: ignore[attr-defined]  # a BufferedReader's

    def read(self, size: int | None = -1) -> bytes:
        data = self._inner.read(-1 if size is None else size)
        self._meter.bytes_read += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        data = self._inner.read1(size)  # type: ignore[attr-defined]  # a BufferedReader's
        self._meter.bytes_read += len(data)
        return data

    def close(self) -> None:
        self._inner.close()
        super().close()


def stored_size(file: InputFile) -> int:
    """The file's size in bytes as stored."""
    if file.uri.startswith("s3://"):
        from moviestream.core.config import AwsSettings

        bucket, _, key = file.uri[5:].partition("/")
        return AwsSettings().client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"]
    return Path(file.uri).stat().st_size


class _Decompressed(io.RawIOBase):
    """A decompressing stream with its damage and size checked: an InputError names the file and
    how far it got, instead of the decompressor's own exception escaping."""

    def __init__(
        self, inner: Readable, uri: str, kind: str, stored: ReadMeter, limits: ArchiveLimits
    ) -> None:
        self._inner = inner
        self._uri = uri
        self._kind = kind
        self._stored = stored
        self._limits = limits
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # a writable bytes-like object
        try:
            data = self._inner.read(len(buffer))
        except InputError:
            raise
        except _DAMAGE as exc:
            raise InputError(
                f"{self._uri}: damaged {self._kind} after {self.produced} decompressed bytes "
                f"(stored byte {self._stored.bytes_read}): {one_line_of(exc)}"
            ) from None
        self.produced += len(data)
        limits = self._limits
        if self.produced > limits.decompressed_bytes:
            raise InputError(
                f"{self._uri}: decompresses to more than {limits.decompressed_bytes} bytes "
                "(--max-decompressed-bytes); refused"
            )
        if self.produced > RATIO_GRACE_BYTES and self.produced > limits.ratio * max(
            self._stored.bytes_read, 1
        ):
            raise InputError(
                f"{self._uri}: decompresses more than {limits.ratio:g} to 1 ({self.produced} bytes from "
                f"{self._stored.bytes_read}; --max-compression-ratio): refused as a decompression bomb"
            )
        buffer[: len(data)] = data
        return len(data)


def one_line_of(exc: BaseException) -> str:
    """``module.Type: first line`` (zlib's exception is called plain "error")."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    text = str(exc).strip().splitlines()
    return f"{name}: {text[0]}" if text else name


@contextmanager
def _seekable(file: InputFile, raw: Readable, meter: ReadMeter) -> Iterator[IO[bytes]]:
    """The stored bytes with random access (a zip's directory is at its end): the local file
    itself, or an S3 object spooled to a temporary file on disk. Either way the meter counts
    every stored byte as read from the start."""
    if not file.uri.startswith("s3://"):
        with open(file.uri, "rb") as local:
            meter.bytes_read = Path(file.uri).stat().st_size
            yield local
        return
    with tempfile.TemporaryFile(prefix="moviestream-zip-") as spool:
        shutil.copyfileobj(raw, spool, 1024 * 1024)
        spool.seek(0)
        yield spool


@contextmanager
def open_csv(
    file: InputFile, meter: ReadMeter | None = None, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS
) -> Iterator[BinaryIO]:
    """The CSV bytes of a file: gzip and zip (one member) are recognised by their magic bytes and
    streamed. ``meter`` counts the stored bytes read."""
    meter = meter if meter is not None else ReadMeter()
    with open_input(file.uri) as opened:
        raw = _Metered(opened, meter)
        head = raw.peek(4)[:4]
        if head.startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield io.BufferedReader(_Decompressed(unzipped, file.uri, "gzip", meter, limits), 1024 * 1024)
        elif head.startswith(_ZIP_MAGIC):
            with _seekable(file, raw, meter) as stored, _zip_member(file, stored, limits) as member:
                yield io.BufferedReader(_Decompressed(member, file.uri, "zip", meter, limits), 1024 * 1024)
        else:
            yield cast(BinaryIO, raw)  # a buffered binary stream, as BinaryIO's readers need


@contextmanager
def _zip_member(file: InputFile, stored: IO[bytes], limits: ArchiveLimits) -> Iterator[IO[bytes]]:
    """The zip's one member, opened for streaming. Its declared size is checked against the caps
    first; the zip module never reads past it (a member that holds more fails its CRC)."""
    try:
        archive = zipfile.ZipFile(stored)
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise InputError(f"{file.uri}: a zip must hold exactly one CSV file, not {len(members)}")
        declared, packed = members[0].file_size, members[0].compress_size
        if declared > limits.decompressed_bytes:
            raise InputError(
                f"{file.uri}: its member declares {declared} bytes, more than {limits.decompressed_bytes} "
                "(--max-decompressed-bytes); refused"
            )
        if declared > RATIO_GRACE_BYTES and declared > limits.ratio * max(packed, 1):
            raise InputError(
                f"{file.uri}: its member declares {declared} bytes from {packed}, more than "
                f"{limits.ratio:g} to 1 (--max-compression-ratio): refused as a decompression bomb"
            )
        member = archive.open(members[0])
    except InputError:
        raise
    except _DAMAGE as exc:
        raise InputError(f"{file.uri}: damaged zip: {one_line_of(exc)}") from None
    with archive, member:
        yield member


def rows_of(
    file: InputFile,
    meter: ReadMeter | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    archive: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
) -> Iterator[Row | Reject]:
    """The file's data rows and rejects (moviestream.core.csv_source's reading: quoting, BOM, bad bytes,
    the field and row caps)."""
    with open_csv(file, meter, archive) as stream:
        yield from read_rows(stream, file.uri, limits)


def check_archive(file: InputFile, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> None:
    """Decompress a gzip or zip whole, keeping nothing: InputError if it is damaged or over the
    caps, before any of its rows is loaded (a truncated gzip would otherwise load the rows before
    the damage and stop in the middle). A plain file passes at once."""
    with open_input(file.uri) as opened:
        head = opened.peek(4)[:4] if hasattr(opened, "peek") else b""
    if not head.startswith((_GZIP_MAGIC, _ZIP_MAGIC)):
        return
    with open_csv(file, limits=limits) as stream:
        while stream.read(1024 * 1024):
            pass


def read_manifest(file: InputFile) -> dict | None:
    """The manifest beside the file, or None when there is none."""
    try:
        with open_input(file.manifest_uri) as stream:
            text = stream.read().decode("utf-8")
    except InputError:
        return None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestMismatch(f"{file.manifest_uri}: not JSON ({exc.msg})") from None
    if not isinstance(manifest, dict) or not {"rows", "sha256"} <= set(manifest):
        raise ManifestMismatch(f'{file.manifest_uri}: needs at least "rows" and "sha256"')
    return manifest


def verify(
    file: InputFile, limits: ReadLimits = DEFAULT_LIMITS, archive: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS
) -> str:
    """The file's sha256, after checking that an archive is whole and within its caps, and the
    file and its row count against its manifest (if any)."""
    checksum = sha256_of(file)
    check_archive(file, archive)
    manifest = read_manifest(file)
    if manifest is None:
        return checksum
    problems = []
    if manifest.get("file") not in (None, file.name):
        problems.append(f"names {manifest['file']!r}")
    if str(manifest["sha256"]).lower() != checksum:
        problems.append(f"sha256 {manifest['sha256']} but the file's is {checksum}")
    rows = sum(1 for _ in rows_of(file, limits=limits, archive=archive))  # data rows, readable or not
    if manifest["rows"] != rows:
        problems.append(f"{manifest['rows']} rows but the file has {rows}")
    if problems:
        raise ManifestMismatch(f"{file.uri} does not match its manifest: " + "; ".join(problems))
    return checksum
