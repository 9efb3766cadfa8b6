"""Real films for the demo: npm's vega-datasets ``data/movies.json`` (3,201 films, BSD-3-Clause)
in the project's 16-column CSV layout (moviestream/core/record.py's CSV_COLUMNS).

The conversion copies what the source has and leaves empty what it lacks; it never cleans or
drops a film: a film without a rating or a title, or dated in the future, goes through as it is,
and the demo's rules (moviestream/rules/vega_movies.dqdl) send it to the bad records with
the reason. Column by column (docs/ARCHITECTURE.md has the table):

    Series_Title   Title (a numeric title, such as 300 or 1941, as its digits)
    Released_Year  the year of Release Date ("Jun 12 1998" -> 1998)
    Certificate    MPAA Rating through MPAA_CERTIFICATES; empty when the source has none
    Runtime        Running Time min as "N min"
    Genre          Major Genre (one genre per film in this source)
    IMDB_Rating    IMDB Rating
    Director       Director
    No_of_Votes    IMDB Votes
    Gross          US Gross (whole dollars), as "1,234,567"
    Poster_Link, Overview, Meta_score, Star1-Star4: empty (not in the source; Rotten Tomatoes'
    rating is another scale than the Metascore, so it is not passed off as one)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from moviestream.core.record import CSV_COLUMNS

# MPAA ratings as the warehouse's certificates: the same words, except "Open" (two films in the
# source, which it rates with no MPAA letter), taken as "Unrated". No rating: an empty field.
MPAA_CERTIFICATES = {
    "G": "G",
    "PG": "PG",
    "PG-13": "PG-13",
    "R": "R",
    "NC-17": "NC-17",
    "Not Rated": "Not Rated",
    "Open": "Unrated",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def release_year(value: Any) -> str:
    """The year of a release date in the source's "Mon DD YYYY" form; as it is otherwise (the
    job's rules then judge what it is)."""
    text = _text(value)
    try:
        return str(datetime.strptime(text, "%b %d %Y").year)
    except ValueError:
        return text


def _thousands(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{int(round(float(value))):,}"
    except (TypeError, ValueError):
        return _text(value)


def convert_film(film: dict[str, Any]) -> dict[str, str]:
    """One film of movies.json as one CSV row (every CSV column, empty where the source is)."""
    row = dict.fromkeys(CSV_COLUMNS, "")
    runtime = _text(film.get("Running Time min"))
    rating = film.get("MPAA Rating")
    row.update(
        Series_Title=_text(film.get("Title")),
        Released_Year=release_year(film.get("Release Date")),
        Certificate=MPAA_CERTIFICATES.get(str(rating), _text(rating)),
        Runtime=f"{runtime} min" if runtime else "",
        Genre=_text(film.get("Major Genre")),
        IMDB_Rating=_text(film.get("IMDB Rating")),
        Director=_text(film.get("Director")),
        No_of_Votes=_text(film.get("IMDB Votes")),
        Gross=_thousands(film.get("US Gross")),
    )
    return row


def read_films(path: Path) -> list[dict[str, Any]]:
    """movies.json: a JSON array of objects. A file of another shape is one clear error."""
    try:
        films = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(films, list) or not all(isinstance(f, dict) for f in films):
        raise ValueError(f"{path}: expected a JSON array of films (vega-datasets' data/movies.json)")
    return films


def convert_rows(films: Iterable[dict[str, Any]]) -> Iterator[dict[str, str]]:
    return (convert_film(f) for f in films)


def write_csv(films: Iterable[dict[str, Any]], out: Path) -> int:
    """Write the CSV; returns the number of rows (one per film, in the source's order)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        for row in convert_rows(films):
            writer.writerow(row)
            rows += 1
    partial.replace(out)
    return rows
