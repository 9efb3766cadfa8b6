"""The record contract: CSV columns, the Kinesis envelope, and the typed schema.

The producer never cleans data: an envelope carries the 16 raw CSV strings unchanged,
so every defect is seen (and reported) by the job's rules.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = frozenset({SCHEMA_VERSION})

CSV_COLUMNS: tuple[str, ...] = (
    "Poster_Link",
    "Series_Title",
    "Released_Year",
    "Certificate",
    "Runtime",
    "Genre",
    "IMDB_Rating",
    "Overview",
    "Meta_score",
    "Director",
    "Star1",
    "Star2",
    "Star3",
    "Star4",
    "No_of_Votes",
    "Gross",
)

# Typed columns (snake_case) produced by the job, in warehouse order.
TYPED_COLUMNS: tuple[str, ...] = (
    "movie_id",
    "series_title",
    "released_year",
    "certificate",
    "runtime_minutes",
    "genres",
    "imdb_rating",
    "overview",
    "meta_score",
    "director",
    "star1",
    "star2",
    "star3",
    "star4",
    "no_of_votes",
    "gross_usd",
    "poster_link",
)


class Envelope(BaseModel):
    """One Kinesis user record: one CSV row, raw, plus provenance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCHEMA_VERSION
    event_id: str
    source: str
    row_number: int = Field(ge=1)
    produced_at: str  # ISO-8601 UTC with milliseconds, e.g. 2026-11-22T10:00:00.123Z
    fields: dict[str, str]  # the CSV's columns by header name (extra columns carried along)


EVENT_ID_PERSON = b"moviestream.evt"  # BLAKE2b personalisation: ids of this project only


def event_id_for(source: str, row_number: int, values: list[str] | tuple[str, ...]) -> str:
    """Stable id of one file row (32 hex chars): the same file row always gets the same id."""
    digest = hashlib.blake2b(digest_size=16, person=EVENT_ID_PERSON)
    digest.update(f"{source}\x1e{row_number}\x1e".encode())
    digest.update("\x1f".join(values).encode("utf-8"))
    return digest.hexdigest()


# Byte limits of the warehouse's text columns (Redshift VARCHAR(n) counts bytes; VARCHAR(MAX) is
# 65,535). A value over its limit would make the whole batch's load fail, so the job routes such
# a record to the bad-records store instead. Checked against
# moviestream/warehouse/sql/001_schema.sql by a test.
WAREHOUSE_TEXT_BYTES: dict[str, int] = {
    "series_title": 1024,
    "certificate": 64,
    "genres": 1024,  # the joined form, "Crime, Drama"
    "overview": 65535,
    "director": 512,
    "star1": 512,
    "star2": 512,
    "star3": 512,
    "star4": 512,
    "poster_link": 2048,
}
GENRE_BYTES = 128  # movies.movie_genres.genre, one genre
EVENT_ID_BYTES = 64  # movies.imdb_movies_rating.event_id
