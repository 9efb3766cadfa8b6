"""Backfill inputs: which files a location names, compressed forms, manifests."""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from batch_backfill.inputs import InputFile, ManifestMismatch, list_inputs, rows_of, sha256_of, verify
from moviestream.record import CSV_COLUMNS
from producer.csv_source import InputError, Reject, Row

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
