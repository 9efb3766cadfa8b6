"""vega-datasets' movies.json into the movies CSV layout (moviestream/producer/vega_movies.py): what maps to
what, what stays empty, and that defects go through unchanged for the rules to judge."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from moviestream.core.record import CSV_COLUMNS
from moviestream.producer.vega_movies import MPAA_CERTIFICATES, convert_film, release_year, write_csv
from moviestream.quality.dqdl import read_ruleset

DEMO_RULES = Path(__file__).parents[2] / "moviestream" / "rules" / "demo_films.dqdl"
FILM = {
    "Title": "The Land Girls",
    "US Gross": 146083,
    "Worldwide Gross": 146083,
    "US DVD Sales": None,
    "Production Budget": 8000000,
    "Release Date": "Jun 12 1998",
    "MPAA Rating": "R",
    "Running Time min": 112,
    "Distributor": "Gramercy",
    "Source": None,
    "Major Genre": "Drama",
    "Creative Type": None,
    "Director": "David Leland",
    "Rotten Tomatoes Rating": 60,
    "IMDB Rating": 6.1,
    "IMDB Votes": 1071,
}


def test_a_film_maps_column_by_column_and_the_rest_stays_empty():
    row = convert_film(FILM)
    assert list(row) == list(CSV_COLUMNS)
    assert row == dict.fromkeys(CSV_COLUMNS, "") | {
        "Series_Title": "The Land Girls",
        "Released_Year": "1998",
        "Certificate": "R",
        "Runtime": "112 min",
        "Genre": "Drama",
        "IMDB_Rating": "6.1",
        "Director": "David Leland",
        "No_of_Votes": "1071",
        "Gross": "146,083",  # the US gross, as the IMDb export writes amounts
    }


def test_defects_go_through_unchanged_for_the_rules():
    row = convert_film(
        FILM
        | {
            "Title": None,
            "IMDB Rating": None,
            "Director": None,
            "Running Time min": None,
            "MPAA Rating": None,
        }
    )
    assert (row["Series_Title"], row["IMDB_Rating"], row["Director"], row["Runtime"], row["Certificate"]) == (
        "",
        "",
        "",
        "",
        "",
    )
    assert convert_film(FILM | {"Title": 300})["Series_Title"] == "300"  # a numeric title is a title
    assert convert_film(FILM | {"Release Date": "Dec 15 2039"})["Released_Year"] == "2039"  # judged later


def test_every_mpaa_rating_in_the_source_has_a_certificate_the_demo_rules_allow():
    text = DEMO_RULES.read_text(encoding="utf-8")
    allowed = set(json.loads(re.search(r"^certificates = (\[.*?\])$", text, re.M | re.S).group(1)))
    assert set(MPAA_CERTIFICATES.values()) <= allowed
    assert convert_film(FILM | {"MPAA Rating": "Open"})["Certificate"] == "Unrated"
    assert read_ruleset(DEMO_RULES).rules  # the demo's rules parse


@pytest.mark.parametrize(
    ("value", "year"), [("Jun 12 1998", "1998"), ("Jan 01 1939", "1939"), ("1998", "1998")]
)
def test_release_year(value, year):
    assert release_year(value) == year


@pytest.mark.tools
def test_the_cli_writes_one_row_per_film_and_bad_input_is_one_line(tmp_path):
    source = tmp_path / "movies.json"
    source.write_text(json.dumps([FILM, FILM | {"Title": "Another, With a Comma"}]))
    out = tmp_path / "films.csv"
    done = subprocess.run(
        [sys.executable, "-m", "moviestream", "from-vega-movies", str(source), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and json.loads(done.stdout) == {"out": str(out), "rows": 2}
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["Series_Title"] for r in rows] == ["The Land Girls", "Another, With a Comma"]
    source.write_text('{"not": "a list"}')
    failed = subprocess.run(
        [sys.executable, "-m", "moviestream", "from-vega-movies", str(source), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert (
        failed.returncode == 2 and failed.stderr.count("\n") == 1 and "expected a JSON array" in failed.stderr
    )
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "moviestream",
            "from-vega-movies",
            str(tmp_path / "nope.json"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_write_csv_is_readable_by_the_producer(tmp_path):
    from moviestream.core.csv_source import Row, read_rows

    out = tmp_path / "films.csv"
    assert write_csv([FILM] * 3, out) == 3
    with out.open("rb") as fh:
        rows = list(read_rows(fh, str(out)))
    assert len(rows) == 3 and all(isinstance(r, Row) for r in rows)
