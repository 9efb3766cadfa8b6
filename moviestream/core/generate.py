"""Synthetic movies CSVs with the 16 IMDb columns and every defect class the pipeline must handle.

Deterministic for a seed. Here in the core, not with the producer, because more than the producer
needs realistic rows: the streaming job's warm-up (moviestream/pipeline/batch_pipeline.py) and
the benchmarks. Defect classes (each row gets at most one, with probability
``defect_rate``), all of which the job must either load or report with a reason:
  missing_rating, rating_out_of_range, rating_not_numeric, low_rating, year_not_numeric,
  missing_title, runtime_unparseable, gross_unparseable, empty_fields, resent_update
Clean rows still carry the real files' quirks: quoted commas, "142 min", "28,341,469",
"Crime, Drama", non-ASCII titles and embedded quotes.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from moviestream.core.record import CSV_COLUMNS

DEFECTS = (
    "missing_rating",
    "rating_out_of_range",
    "rating_not_numeric",
    "low_rating",
    "year_not_numeric",
    "missing_title",
    "runtime_unparseable",
    "gross_unparseable",
    "empty_fields",
    "resent_update",
)
_ROW_DEFECTS = tuple(d for d in DEFECTS if d != "resent_update")  # a row's own: no earlier rows
_ADJ = (
    "Silent",
    "Crimson",
    "Last",
    "Hidden",
    "Golden",
    "Broken",
    "Endless",
    "Wild",
    "Quiet",
    "Lost",
    "Eternal",
    "Dark",
    "Bright",
    "Forgotten",
    "Little",
    "Great",
    "Strange",
    "Lonely",
    "Burning",
    "Frozen",
)
_NOUN = (
    "River",
    "Kingdom",
    "Shadow",
    "Promise",
    "Road",
    "Garden",
    "Empire",
    "Journey",
    "Storm",
    "Mirror",
    "Harbor",
    "Winter",
    "Dream",
    "Letter",
    "City",
    "Voyage",
    "Secret",
    "Island",
    "Night",
    "Symphony",
)
_FOREIGN = (
    "Amélie",
    "Léon",
    "Das Boot",
    "Cidade de Deus",
    "千と千尋の神隠し",
    "Ladri di biciclette",
    "El laberinto del fauno",
    "Smultronstället",
    "Börn",
    "Żywot",
    "Ōkami",
    "Ça ira",
)
_FIRST = (
    "Akira",
    "Sofia",
    "Martin",
    "Chloé",
    "Bong",
    "Greta",
    "Jean-Luc",
    "Ingrid",
    "Federico",
    "Satyajit",
    "Agnès",
    "Wong",
    "Sergio",
    "Björk",
    "Jürgen",
    "Ana",
    "Tomás",
    "Nuri",
    "Hayao",
    "Céline",
)
_LAST = (
    "Kurosawa",
    "Coppola",
    "Scorsese",
    "Varda",
    "Joon-ho",
    "Gerwig",
    "Godard",
    "Bergman",
    "Fellini",
    "Ray",
    "Kar-wai",
    "Leone",
    "Guðmundsdóttir",
    "Schäfer",
    "Muñoz",
    "O'Brien",
    "Ceylan",
    "Miyazaki",
    "Sciamma",
    "Núñez",
)
_GENRES = (
    "Drama",
    "Crime",
    "Action",
    "Adventure",
    "Comedy",
    "Romance",
    "Thriller",
    "Mystery",
    "Sci-Fi",
    "Fantasy",
    "Animation",
    "Biography",
    "History",
    "War",
    "Western",
    "Music",
    "Family",
    "Horror",
)
_CERTS = ("U", "UA", "A", "PG-13", "R", "PG", "G", "Passed", "Approved", "16", "TV-PG", "")


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _title(rng: random.Random, i: int) -> str:
    roll = rng.random()
    if roll < 0.12:
        return f"{rng.choice(_FOREIGN)} {i}"
    if roll < 0.22:
        return f"The {rng.choice(_ADJ)} {rng.choice(_NOUN)}, Part {i % 7 + 1}"  # a quoted comma
    if roll < 0.27:
        return f'The "{rng.choice(_ADJ)}" {rng.choice(_NOUN)} {i}'  # embedded quotes
    return f"The {rng.choice(_ADJ)} {rng.choice(_NOUN)} {i}"


def clean_row(rng: random.Random, i: int) -> dict[str, str]:
    year = rng.randint(1921, 2023)
    rating = round(rng.uniform(8.05, 9.3), 1)
    genres = ", ".join(rng.sample(_GENRES, rng.randint(1, 3)))
    overview = (
        f"A {rng.choice(_ADJ).lower()} story about a {rng.choice(_NOUN).lower()}, "
        f'a {rng.choice(_NOUN).lower()} and "{rng.choice(_ADJ).lower()}" choices.'
    )
    return {
        "Poster_Link": f"https://images.example.com/posters/{i:07d}.jpg",
        "Series_Title": _title(rng, i),
        "Released_Year": str(year),
        "Certificate": rng.choice(_CERTS),
        "Runtime": f"{rng.randint(64, 238)} min",
        "Genre": genres,
        "IMDB_Rating": f"{rating:.1f}",
        "Overview": overview,
        "Meta_score": str(rng.randint(55, 100)) if rng.random() > 0.15 else "",
        "Director": _person(rng),
        "Star1": _person(rng),
        "Star2": _person(rng),
        "Star3": _person(rng),
        "Star4": _person(rng),
        "No_of_Votes": str(rng.randint(25_000, 2_400_000)),
        "Gross": f"{rng.randint(10_000, 900_000_000):,}" if rng.random() > 0.17 else "",
    }


def apply_defect(rng: random.Random, row: dict[str, str], defect: str) -> dict[str, str]:
    row = dict(row)
    match defect:
        case "missing_rating":
            row["IMDB_Rating"] = ""
        case "rating_out_of_range":
            row["IMDB_Rating"] = rng.choice(["10.4", "11.2", "12.0", "0.0"])
        case "rating_not_numeric":
            row["IMDB_Rating"] = rng.choice(["N/A", "eight", "8,5", "?"])
        case "low_rating":
            row["IMDB_Rating"] = rng.choice(["7.6", "7.9", "8.0", "6.5"])  # 8.0 fails: between is exclusive
        case "year_not_numeric":
            row["Released_Year"] = rng.choice(["PG", "19xx", "unknown", "TBA"])
        case "missing_title":
            row["Series_Title"] = rng.choice(["", "   "])
        case "runtime_unparseable":
            row["Runtime"] = rng.choice(["2h 22m", "unknown", "min"])
        case "gross_unparseable":
            row["Gross"] = rng.choice(["$ unknown", "12.3M", "n/a"])
        case "empty_fields":
            for col in rng.sample(["Certificate", "Meta_score", "Gross", "Star3", "Star4", "Overview"], 3):
                row[col] = ""
    return row


def sample_row(i: int, defect_every: int = 10) -> dict[str, str]:
    """Row ``i`` on its own, the same for the same ``i``: a clean row, or every ``defect_every``-th
    one with one defect, taking the classes in turn (not ``resent_update``, which needs earlier
    rows). For callers that need realistic rows one at a time (the streaming job's warm-up)."""
    rng = random.Random(i)
    row = clean_row(rng, i)
    if i % defect_every:
        return row
    return apply_defect(rng, row, _ROW_DEFECTS[(i // defect_every) % len(_ROW_DEFECTS)])


def generate(out: Path, rows: int, seed: int = 7, defect_rate: float = 0.1) -> dict[str, int]:
    """Write ``rows`` data rows to ``out``; returns how many rows got each defect."""
    rng = random.Random(seed)
    counts = dict.fromkeys(DEFECTS, 0)
    previous: list[dict[str, str]] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writeheader()
        for i in range(1, rows + 1):
            row = clean_row(rng, i)
            if rng.random() < defect_rate:
                defect = rng.choice(DEFECTS)
                if defect == "resent_update" and previous:
                    # The same movie again, later, with more votes: an update, not a new movie.
                    row = dict(rng.choice(previous))
                    row["No_of_Votes"] = str(int(row["No_of_Votes"]) + rng.randint(1, 5000))
                elif defect == "resent_update":
                    defect = "missing_rating"
                    row = apply_defect(rng, row, defect)
                else:
                    row = apply_defect(rng, row, defect)
                counts[defect] += 1
            elif len(previous) < 1000:
                previous.append(row)
            writer.writerow(row)
    return counts
