"""Reading quarantined records' lines back from their S3 bad-records files, with the caller's
own credentials (``quarantine show``, ``quarantine replay``). The files are read, never written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

# A bad-records file is one batch's bad records, a few kilobytes each: past this much, a file is
# read no further (the lines beyond it read as missing).
MAX_FILE_BYTES = 64 * 1024 * 1024


def split_uri(s3_uri: str) -> tuple[str, str]:
    bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
    return bucket, key


def line_doc(raw: bytes) -> dict[str, Any]:
    """A line as the JSON object it should be; one that is not reads as ``unreadable_line``."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    return doc if isinstance(doc, dict) else {"unreadable_line": raw[:1024].decode("utf-8", "replace")}


def read_lines(s3: Any, s3_uri: str, numbers: Iterable[int]) -> dict[int, dict[str, Any]] | None:
    """The lines ``numbers`` (1-based) of the file, as dicts; a line the file does not have (or
    has past MAX_FILE_BYTES) is missing from the result. None when the file is gone (the bucket's
    lifecycle expired it); other S3 errors (no access, an outage) are raised as botocore gives
    them, for the caller's failure policy."""
    wanted = set(numbers)
    bucket, key = split_uri(s3_uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except s3.exceptions.NoSuchKey:
        return None
    found: dict[int, dict[str, Any]] = {}
    read = 0
    last = max(wanted, default=0)
    try:
        for number, raw in enumerate(body.iter_lines(), start=1):
            read += len(raw) + 1
            if number in wanted:
                found[number] = line_doc(raw)
            if number >= last or read > MAX_FILE_BYTES:
                break
    finally:
        body.close()
    return found
