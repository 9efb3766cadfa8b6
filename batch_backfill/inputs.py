"""What a backfill reads: one CSV or a folder/prefix of them, local or in S3, plain, gzip or zip,
each verified against its manifest when one lies beside it.

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
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from producer.csv_source import InputError, Reject, Row, open_input, read_rows

CSV_SUFFIXES = (".csv", ".csv.gz", ".gz", ".zip")
MANIFEST_SUFFIX = ".manifest.json"
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


class ManifestMismatch(InputError):
    """The file is not what its manifest says."""


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
    from moviestream.config import AwsSettings

    bucket, _, key = location[5:].partition("/")
    if key and not key.endswith("/"):
        return [InputFile(location)]
    keys: list[str] = []
    try:
        pages = AwsSettings().client("s3").get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=bucket, Prefix=key):
            keys.extend(o["Key"] for o in page.get("Contents", []) if _is_data_file(o["Key"]))
    except Exception as exc:  # noqa: BLE001 - botocore raises many types; all mean "cannot list"
        raise InputError(f"cannot list {location}: {str(exc).splitlines()[0]}") from exc
    return [InputFile(f"s3://{bucket}/{k}") for k in sorted(keys)]


def sha256_of(file: InputFile) -> str:
    """The hex sha256 of the file's bytes as stored (compressed files are not decompressed)."""
    digest = hashlib.sha256()
    with open_input(file.uri) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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
        return self._inner.peek(size)

    def read(self, size: int | None = -1) -> bytes:
        data = self._inner.read(size)
        self._meter.bytes_read += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        data = self._inner.read1(size)
        self._meter.bytes_read += len(data)
        return data

    def close(self) -> None:
        self._inner.close()
        super().close()


def stored_size(file: InputFile) -> int:
    """The file's size in bytes as stored."""
    if file.uri.startswith("s3://"):
        from moviestream.config import AwsSettings

        bucket, _, key = file.uri[5:].partition("/")
        return AwsSettings().client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"]
    return Path(file.uri).stat().st_size


@contextmanager
def open_csv(file: InputFile, meter: ReadMeter | None = None) -> Iterator[BinaryIO]:
    """The CSV bytes of a file: gzip and zip (one member) are recognised by their magic bytes.
    ``meter`` counts the stored bytes read."""
    with open_input(file.uri) as opened:
        raw = _Metered(opened, meter) if meter is not None else opened
        head = raw.peek(4)[:4]
        if head.startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield unzipped
        elif head.startswith(_ZIP_MAGIC):
            archive = zipfile.ZipFile(io.BytesIO(raw.read()))  # zip needs random access
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise InputError(f"{file.uri}: a zip must hold exactly one CSV file, not {len(members)}")
            with archive.open(members[0]) as member:
                yield member
        else:
            yield raw


def rows_of(file: InputFile, meter: ReadMeter | None = None) -> Iterator[Row | Reject]:
    """The file's data rows and rejects (producer.csv_source's reading: quoting, BOM, bad bytes)."""
    with open_csv(file, meter) as stream:
        yield from read_rows(stream, file.uri)


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


def verify(file: InputFile) -> str:
    """The file's sha256, after checking it and its row count against its manifest (if any)."""
    checksum = sha256_of(file)
    manifest = read_manifest(file)
    if manifest is None:
        return checksum
    problems = []
    if manifest.get("file") not in (None, file.name):
        problems.append(f"names {manifest['file']!r}")
    if str(manifest["sha256"]).lower() != checksum:
        problems.append(f"sha256 {manifest['sha256']} but the file's is {checksum}")
    rows = sum(1 for _ in rows_of(file))  # data rows, readable or not
    if manifest["rows"] != rows:
        problems.append(f"{manifest['rows']} rows but the file has {rows}")
    if problems:
        raise ManifestMismatch(f"{file.uri} does not match its manifest: " + "; ".join(problems))
    return checksum
