"""movie_id: the deterministic key of a movie, from its normalised title and release year.

One implementation, used as-is by the producer (partition key) and by the job, which calls it
from the Python pass that expands Kinesis records (moviestream.core.transform.movie_key): no second
implementation exists that could drift from this one.
Two films with the same title and different years are two movies.
"""

from __future__ import annotations

import hashlib
import unicodedata

_KEY_BYTES = 8  # 16 hex characters: collisions are negligible for any movie catalogue


def normalise_text(value: str | None) -> str:
    """NFKC, case-folded, whitespace collapsed and trimmed; None becomes ''."""
    if value is None:
        return ""
    if value.isascii():  # NFKC leaves ASCII alone and casefold() equals lower() on it
        return " ".join(value.lower().split())
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def movie_id(title: str | None, year: str | None) -> str:
    """The movie key from the raw title and raw year strings."""
    material = normalise_text(title) + "\x1f" + normalise_text(year)
    return hashlib.blake2b(material.encode("utf-8"), digest_size=_KEY_BYTES).hexdigest()
