"""Backfill inputs: which files a location names, compressed forms, manifests."""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from moviestream.backfill.inputs import InputFile, ManifestMismatch, list_inputs, rows_of, sha256_of, verify
from moviestream.core.csv_source import InputError, Reject, Row
from moviestream.core.record import CSV_COLUMNS

HEADER = ",".join(CSV_COLUMNS)


def csv_bytes(rows: int) -> bytes:
    lines = [HEADER] + [",".join([f"v{i}"] * len(CSV_COLUMNS)) for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def write(path: Path, data: bytes) -> InputFile:
    path.write_bytes(data)
    return InputFile(str(path))


@pytest.mark.parametrize("form", ["plain", "gzip", "zip"])
def test_each_stored_form_reads_the_same_rows(tmp_path, form):
    data = csv_bytes(3)
    if form == "gzip":
        stored = gzip.compress(data)
    elif form == "zip":
        buffer = tmp_path / "tmp.zip"
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("movies.csv", data)
        stored = buffer.read_bytes()
    else:
        stored = data
    file = write(tmp_path / f"movies.{'csv' if form == 'plain' else form}", stored)
    rows = list(rows_of(file))
    assert [r.values[0] for r in rows if isinstance(r, Row)] == ["v0", "v1", "v2"]
    assert sha256_of(file) == hashlib.sha256(stored).hexdigest()  # of the bytes as stored


def test_a_zip_with_two_files_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.csv", csv_bytes(1))
        archive.writestr("b.csv", csv_bytes(1))
    with pytest.raises(InputError, match="exactly one CSV file, not 2"):
        list(rows_of(InputFile(str(tmp_path / "two.zip"))))


def test_a_folder_lists_its_data_files_but_not_manifests(tmp_path):
    for name in ("b.csv", "a.csv.gz", "c.zip", "notes.txt", "b.csv.manifest.json"):
        (tmp_path / name).write_bytes(b"x")
    assert [f.name for f in list_inputs(str(tmp_path))] == ["a.csv.gz", "b.csv", "c.zip"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no CSV files"):
        list_inputs(str(tmp_path / "empty"))
    with pytest.raises(InputError, match="file not found"):
        list_inputs(str(tmp_path / "missing.csv"))


def test_manifest_checked_before_loading(tmp_path):
    data = csv_bytes(4)
    file = write(tmp_path / "movies.csv", data)
    assert verify(file) == hashlib.sha256(data).hexdigest()  # no manifest: nothing to check

    manifest = tmp_path / "movies.csv.manifest.json"
    good = {"file": "movies.csv", "rows": 4, "sha256": hashlib.sha256(data).hexdigest()}
    manifest.write_text(json.dumps(good))
    assert verify(file) == good["sha256"]

    manifest.write_text(json.dumps({**good, "rows": 5, "sha256": "0" * 64}))
    with pytest.raises(ManifestMismatch) as exc:
        verify(file)
    assert "5 rows but the file has 4" in str(exc.value) and "sha256 000" in str(exc.value)

    manifest.write_text("{not json")
    with pytest.raises(ManifestMismatch, match="not JSON"):
        verify(file)


def test_unreadable_rows_are_counted_as_rows(tmp_path):
    data = csv_bytes(2) + b"\xff\xfe," * len(CSV_COLUMNS) + b"\n"
    file = write(tmp_path / "movies.csv", data)
    items = list(rows_of(file))
    assert len(items) == 3 and isinstance(items[-1], Reject)


# --- damaged and hostile files: one InputError naming the file, never the decompressor's own ---


def _error_of(file: InputFile, **limits) -> str:
    from moviestream.backfill.inputs import ArchiveLimits

    with pytest.raises(InputError) as caught:
        verify(file, archive=ArchiveLimits(**limits))
    return str(caught.value)


def test_a_truncated_gzip_is_refused_before_any_row(tmp_path):
    from tests.hostile_files import csv_bytes as movies
    from tests.hostile_files import truncated_gzip

    file = write(tmp_path / "cut.csv.gz", truncated_gzip(movies(2000)))
    message = _error_of(file)
    assert message.startswith(f"{file.uri}: damaged gzip after ")
    assert "EOFError: Compressed file ended before the end-of-stream marker was reached" in message


def test_corrupt_deflate_data_in_a_gzip_is_refused(tmp_path):
    from tests.hostile_files import csv_bytes as movies

    packed = bytearray(gzip.compress(movies(500)))
    packed[40:60] = b"\xff" * 20
    message = _error_of(write(tmp_path / "bad.gz", bytes(packed)))
    assert "damaged gzip after" in message and (
        "zlib.error: Error -3" in message or "gzip.BadGzipFile" in message
    )


def test_a_zip_with_a_bad_crc_is_refused(tmp_path):
    from tests.hostile_files import bad_crc_zip
    from tests.hostile_files import csv_bytes as movies

    file = write(tmp_path / "crc.zip", bad_crc_zip(movies(100)))
    assert _error_of(file) == (
        f"{file.uri}: damaged zip after 0 decompressed bytes (stored byte {Path(file.uri).stat().st_size}): "
        "zipfile.BadZipFile: Bad CRC-32 for file 'movies.csv'"
    )


def test_a_decompression_bomb_is_refused_by_size_and_by_ratio(tmp_path):
    from tests.hostile_files import gzip_bomb

    file = write(tmp_path / "bomb.csv.gz", gzip_bomb(64 * 1024 * 1024))
    assert "decompresses to more than 8388608 bytes (--max-decompressed-bytes); refused" in _error_of(
        file, decompressed_bytes=8 * 1024 * 1024
    )
    assert "refused as a decompression bomb" in _error_of(file, ratio=50)


def test_a_zip_bomb_is_refused_from_its_directory(tmp_path):
    buffer = tmp_path / "bomb.zip"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("movies.csv", HEADER.encode() + b"\n" + b"0" * (40 * 1024 * 1024))
    message = _error_of(InputFile(str(buffer)), ratio=50)
    assert "its member declares 41943188 bytes from" in message and "decompression bomb" in message


def test_a_binary_file_is_refused_by_its_header(tmp_path):
    from tests.hostile_files import binary_file

    file = write(tmp_path / "image.csv", binary_file())
    with pytest.raises(InputError, match="image.csv: the header is not valid UTF-8"):
        list(rows_of(file))


def test_a_zip_is_streamed_not_read_whole(tmp_path):
    import tracemalloc

    buffer = tmp_path / "big.zip"
    from tests.hostile_files import csv_bytes as movies

    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("movies.csv", movies(400_000))  # about 50 MiB decompressed
    from moviestream.backfill.inputs import open_csv

    size = 0
    tracemalloc.start()
    try:
        with open_csv(InputFile(str(buffer))) as stream:
            while block := stream.read(1024 * 1024):
                size += len(block)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == len(movies(400_000))
    assert peak < 12 * 1024 * 1024  # a few blocks of 1 MiB, never the 50 MiB member
