"""Corrections for quarantined records (``quarantine replay --fixes FILE``), keyed by quarantine_id.

Two formats, told apart by the file's first character that is not white space (``{``: JSON Lines):
- CSV with a header: ``quarantine_id`` and any of the movies CSV's columns. A cell replaces that
  field; an empty cell leaves the field as it was (CSV cannot tell empty from absent).
- JSON Lines: one object per line, ``quarantine_id`` and any of the columns; a string replaces
  the field, ``null`` removes it.

The file is outside input: it is read whole only below MAX_FIXES_BYTES, a column that is not the
movies CSV's, an id that is not one, a repeated id or a value that is not text is refused with
its line, in one ``FixesError`` line.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from moviestream.core.record import CSV_COLUMNS

MAX_FIXES_BYTES = 64 * 1024 * 1024
MAX_VALUE_CHARS = 1024 * 1024  # a corrected field: far more than any real one
_ID = re.compile(r"[0-9a-f]{64}")

# quarantine_id -> field -> corrected value (None: remove the field)
Fixes = dict[str, dict[str, str | None]]


class FixesError(ValueError):
    """The fixes file cannot be used (one line: where and why)."""


def read_fixes(path: Path) -> Fixes:
    """The corrections in the file ``path`` (CSV or JSON Lines); FixesError when it cannot be used."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FIXES_BYTES + 1)
    except OSError as exc:
        raise FixesError(f"cannot read the fixes file {path}: {exc.strerror or exc}") from None
    return parse_fixes(data, str(path))


def parse_fixes(data: bytes, path: str) -> Fixes:
    """The corrections in ``data``, the content of ``path`` (a file's or an S3 object's: where the
    error lines say they are). Read at most MAX_FIXES_BYTES + 1 bytes of it."""
    if len(data) > MAX_FIXES_BYTES:
        raise FixesError(f"{path}: larger than {MAX_FIXES_BYTES // (1024 * 1024)} MiB; split it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FixesError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    rows = _json_lines(path, text) if text.lstrip().startswith("{") else _csv_rows(path, text)
    fixes: Fixes = {}
    for where, row in rows:
        qid, fields = _fix(where, row)
        if qid in fixes:
            raise FixesError(f"{where}: quarantine_id {qid[:12]}… is corrected twice")
        fixes[qid] = fields
    if not fixes:
        raise FixesError(f"{path}: no corrections in it")
    return fixes


def _json_lines(path: str, text: str) -> Iterator[tuple[str, Mapping[str, object]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FixesError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(doc, dict):
            raise FixesError(f"{path}:{number}: not a JSON object")
        yield f"{path}:{number}", doc


def _csv_rows(path: str, text: str) -> Iterator[tuple[str, Mapping[str, object]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header or "quarantine_id" not in header:
            raise FixesError(f"{path}: a CSV of fixes needs a header with quarantine_id (or use JSON Lines)")
        if len(set(header)) != len(header):
            raise FixesError(f"{path}: a column is named twice in the header")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise FixesError(f"{where}: {len(row)} cells, the header has {len(header)}")
            # An empty cell leaves the field as it was.
            yield where, {name: cell for name, cell in zip(header, row, strict=True) if cell != ""}
    except csv.Error as exc:
        raise FixesError(f"{path}:{reader.line_num}: not CSV ({exc})") from None


def _fix(where: str, row: Mapping[str, object]) -> tuple[str, dict[str, str | None]]:
    qid = row.get("quarantine_id")
    if not isinstance(qid, str) or not _ID.fullmatch(qid.strip().lower()):
        raise FixesError(f"{where}: quarantine_id must be the record's 64 hex characters, not {qid!r:.80}")
    fields: dict[str, str | None] = {}
    for name, value in row.items():
        if name == "quarantine_id":
            continue
        if name not in CSV_COLUMNS:
            raise FixesError(f"{where}: {name!r:.80} is not a column of the movies CSV")
        if value is not None and not isinstance(value, str):
            raise FixesError(f"{where}: {name} must be text or null, not {type(value).__name__}")
        if value is not None and len(value) > MAX_VALUE_CHARS:
            raise FixesError(f"{where}: {name} is longer than {MAX_VALUE_CHARS} characters")
        fields[name] = value
    if not fields:
        raise FixesError(f"{where}: corrects no field")
    return qid.strip().lower(), fields
