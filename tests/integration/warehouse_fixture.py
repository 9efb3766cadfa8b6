"""Fifty hand-written movies for the warehouse view tests, and the rows each view must give.

Chosen so every view has something to get wrong: exact thresholds (8.0 and 25,000 votes count,
24,999 does not), a rating/votes tie (Heat and Taxi Driver), tied averages, NULL ratings, votes,
years, directors, stars and grosses, multi-genre movies, and two films called Scarface (1932,
1983). Apart from the 18 named films, filler movies fill whole decades with easy averages.
Every expected row below was worked out by hand from this list, not by running the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Film:
    title: str
    year: int | None
    genres: str | None
    rating: str | None
    votes: int | None
    director: str | None
    stars: tuple[str | None, str | None, str | None, str | None]
    gross: int | None


NO_STARS = (None, None, None, None)

NAMED = [
    Film("The Godfather", 1972, "Crime, Drama", "9.2", 1_620_367, "Francis Ford Coppola",
         ("Marlon Brando", "Al Pacino", "James Caan", "Diane Keaton"), 134_966_411),
    Film("The Godfather Part II", 1974, "Crime, Drama", "9.0", 1_129_952, "Francis Ford Coppola",
         ("Al Pacino", "Robert De Niro", "Robert Duvall", "Diane Keaton"), 57_300_000),
    Film("Apocalypse Now", 1979, "Drama, Mystery, War", "8.4", 606_398, "Francis Ford Coppola",
         ("Martin Sheen", "Marlon Brando", "Robert Duvall", "Frederic Forrest"), 83_471_511),
    Film("Goodfellas", 1990, "Biography, Crime, Drama", "8.7", 1_020_727, "Martin Scorsese",
         ("Robert De Niro", "Ray Liotta", "Joe Pesci", "Lorraine Bracco"), 46_836_394),
    Film("Taxi Driver", 1976, "Crime, Drama", "8.3", 724_636, "Martin Scorsese",
         ("Robert De Niro", "Jodie Foster", "Cybill Shepherd", "Albert Brooks"), 28_262_574),
    # Same rating and votes as Taxi Driver on purpose: a tie in every ranking.
    Film("Heat", 1995, "Action, Crime, Drama", "8.3", 724_636, "Michael Mann",
         ("Al Pacino", "Robert De Niro", "Val Kilmer", "Jon Voight"), 67_436_818),
    Film("Scarface", 1983, "Crime, Drama", "8.3", 740_911, "Brian De Palma",
         ("Al Pacino", "Michelle Pfeiffer", "Steven Bauer", "Mary Elizabeth Mastrantonio"), 45_598_982),
    Film("Spirited Away", 2001, "Animation, Adventure, Family", "8.6", 651_376, "Hayao Miyazaki",
         ("Daveigh Chase", "Suzanne Pleshette", "Miyu Irino", "Rumi Hiiragi"), 10_055_859),
    Film("Princess Mononoke", 1997, "Animation, Action, Adventure", "8.4", 343_171, "Hayao Miyazaki",
         ("Yôji Matsuda", "Yuriko Ishida", "Yûko Tanaka", "Billy Crudup"), 2_375_308),
    Film("Parasite", 2019, "Comedy, Drama, Thriller", "8.6", 552_778, "Bong Joon Ho",
         ("Kang-ho Song", "Sun-kyun Lee", "Yeo-jeong Jo", "Woo-sik Choi"), 53_367_844),
    Film("Memories of Murder", 2003, "Crime, Drama, Mystery", "8.1", 161_984, "Bong Joon Ho",
         ("Kang-ho Song", "Sang-kyung Kim", "Roe-ha Kim", "Jae-ho Song"), None),
    Film("Boundary Case", 2010, "Drama", "8.0", 25_000, "Ana Reyes", ("Mia Lund", "Tom Berg", None, None),
         1_000_000),
    # The other Scarface: same title, another year, so another movie; below 8.0.
    Film("Scarface", 1932, "Action, Crime, Drama", "7.7", 27_000, "Howard Hawks",
         ("Paul Muni", "Ann Dvorak", "Karen Morley", "Osgood Perkins"), None),
    Film("Just Below Votes", 2010, "Drama", "8.5", 24_999, "Ana Reyes", ("Mia Lund", "Tom Berg", "Lea Dahl", None),
         500_000),
    Film("Just Below Rating", 2011, "Drama", "7.9", 300_000, "Ana Reyes", ("Mia Lund", "Lea Dahl", None, None),
         2_000_000),
    Film("Obscure Gem", 2015, "Documentary", "9.5", 900, None, NO_STARS, None),
    Film("No Rating", 2016, "Drama, Horror", None, 50_000, "Ana Reyes", ("Tom Berg", None, None, None), 3_000_000),
    Film("No Votes", 2017, "Horror", "8.8", None, "Ivo Kral", ("Lea Dahl", None, None, None), None),
]  # fmt: skip

FILLERS = (
    # 1940s: eight Westerns averaging 6.75, no gross.
    [Film(f"Western No. {i + 1}", 1941 + i, "Western", r, 1_000, "Old Hand", NO_STARS, None)
     for i, r in enumerate(["6.0", "6.5", "7.0", "7.5"] * 2)]
    # 1950s: eight romances, two unrated, the rated ones all 7.2; four grossed 100,000.
    + [Film(f"Romance No. {i + 1}", 1951 + i, "Romance", None if i >= 6 else "7.2", 2_000, "Old Hand",
            NO_STARS, 100_000 if i < 4 else None) for i in range(8)]
    # 1960s: eight comedies averaging 6.5, just under the votes threshold; three grossed 1,000,001.
    + [Film(f"Comedy No. {i + 1}", 1961 + i, "Comedy", r, 24_000, "Old Hand", NO_STARS,
            1_000_001 if i < 3 else None) for i, r in enumerate(["5.0", "6.0", "7.0", "8.0"] * 2)]
    # 2020s: four 8.1-rated science fiction films with too few votes to be top rated.
    + [Film(f"Sci-Fi No. {i + 1}", 2021 + i, "Sci-Fi", "8.1", 10_000, "New Hand", NO_STARS, 5_000_000)
       for i in range(4)]
    # No year: four shorts.
    + [Film(f"Short No. {i + 1}", None, "Short", "7.0", 500, None, NO_STARS, None) for i in range(4)]
)  # fmt: skip

FILMS = NAMED + FILLERS
assert len(FILMS) == 50

# -- expected view rows -------------------------------------------------------------------------

# (series_title, released_year, imdb_rating, no_of_votes), in the query CLI's order.
TOP_RATED = [
    ("The Godfather", 1972, Decimal("9.2"), 1_620_367),
    ("The Godfather Part II", 1974, Decimal("9.0"), 1_129_952),
    ("Goodfellas", 1990, Decimal("8.7"), 1_020_727),
    ("Spirited Away", 2001, Decimal("8.6"), 651_376),
    ("Parasite", 2019, Decimal("8.6"), 552_778),
    ("Apocalypse Now", 1979, Decimal("8.4"), 606_398),
    ("Princess Mononoke", 1997, Decimal("8.4"), 343_171),
    ("Scarface", 1983, Decimal("8.3"), 740_911),
    ("Heat", 1995, Decimal("8.3"), 724_636),
    ("Taxi Driver", 1976, Decimal("8.3"), 724_636),
    ("Memories of Murder", 2003, Decimal("8.1"), 161_984),
    ("Boundary Case", 2010, Decimal("8.0"), 25_000),
]

# (genre, genre_rank, series_title, released_year), in the CLI's order (genre, rank, title).
TOP_RATED_BY_GENRE = [
    ("Action", 1, "Princess Mononoke", 1997),
    ("Action", 2, "Heat", 1995),
    ("Action", 3, "Scarface", 1932),
    ("Adventure", 1, "Spirited Away", 2001),
    ("Adventure", 2, "Princess Mononoke", 1997),
    ("Animation", 1, "Spirited Away", 2001),
    ("Animation", 2, "Princess Mononoke", 1997),
    ("Biography", 1, "Goodfellas", 1990),
    ("Comedy", 1, "Parasite", 2019),
    ("Crime", 1, "The Godfather", 1972),
    ("Crime", 2, "The Godfather Part II", 1974),
    ("Crime", 3, "Goodfellas", 1990),
    ("Crime", 4, "Scarface", 1983),
    ("Crime", 5, "Heat", 1995),
    ("Crime", 5, "Taxi Driver", 1976),
    ("Crime", 7, "Memories of Murder", 2003),
    ("Crime", 8, "Scarface", 1932),
    ("Drama", 1, "The Godfather", 1972),
    ("Drama", 2, "The Godfather Part II", 1974),
    ("Drama", 3, "Goodfellas", 1990),
    ("Drama", 4, "Parasite", 2019),
    ("Drama", 5, "Apocalypse Now", 1979),
    ("Drama", 6, "Scarface", 1983),
    ("Drama", 7, "Heat", 1995),
    ("Drama", 7, "Taxi Driver", 1976),
    ("Drama", 9, "Memories of Murder", 2003),
    ("Drama", 10, "Boundary Case", 2010),  # Just Below Rating (11) and Scarface 1932 (12) are cut
    ("Family", 1, "Spirited Away", 2001),
    ("Mystery", 1, "Apocalypse Now", 1979),
    ("Mystery", 2, "Memories of Murder", 2003),
    ("Thriller", 1, "Parasite", 2019),
    ("War", 1, "Apocalypse Now", 1979),
]

# (decade, movies, rated_movies, avg_rating); the four shorts have no year.
MOVIES_BY_DECADE = [
    (1930, 1, 1, Decimal("7.70")),
    (1940, 8, 8, Decimal("6.75")),
    (1950, 8, 6, Decimal("7.20")),
    (1960, 8, 8, Decimal("6.50")),
    (1970, 4, 4, Decimal("8.73")),  # (9.2 + 9.0 + 8.3 + 8.4) / 4 = 8.725
    (1980, 1, 1, Decimal("8.30")),
    (1990, 3, 3, Decimal("8.47")),  # 25.4 / 3
    (2000, 2, 2, Decimal("8.35")),
    (2010, 7, 6, Decimal("8.55")),  # No Rating is unrated: 51.3 / 6
    (2020, 4, 4, Decimal("8.10")),
]

# (director, top_rated_movies, avg_rating, votes), in the CLI's order.
TOP_DIRECTORS = [
    ("Francis Ford Coppola", 3, Decimal("8.87"), 3_356_717),
    ("Hayao Miyazaki", 2, Decimal("8.50"), 994_547),
    ("Martin Scorsese", 2, Decimal("8.50"), 1_745_363),
    ("Bong Joon Ho", 2, Decimal("8.35"), 714_762),
    ("Brian De Palma", 1, Decimal("8.30"), 740_911),
    ("Michael Mann", 1, Decimal("8.30"), 724_636),
    ("Ana Reyes", 1, Decimal("8.00"), 25_000),
]


def _single(rating: str, lead: str, others: list[str]) -> list[tuple]:
    return [(lead, 1, 1, Decimal(rating))] + [(a, 1, 0, Decimal(rating)) for a in others]


# (actor, top_rated_movies, top_billed, avg_rating), every actor of a top rated movie.
TOP_ACTORS = sorted(
    [
        ("Al Pacino", 4, 3, Decimal("8.70")),
        ("Robert De Niro", 4, 2, Decimal("8.58")),  # 34.3 / 4 = 8.575
        ("Marlon Brando", 2, 1, Decimal("8.80")),
        ("Diane Keaton", 2, 0, Decimal("9.10")),
        ("Robert Duvall", 2, 0, Decimal("8.70")),
        ("Kang-ho Song", 2, 2, Decimal("8.35")),
        ("James Caan", 1, 0, Decimal("9.20")),
        ("Martin Sheen", 1, 1, Decimal("8.40")),
        ("Frederic Forrest", 1, 0, Decimal("8.40")),
        ("Ray Liotta", 1, 0, Decimal("8.70")),
        ("Joe Pesci", 1, 0, Decimal("8.70")),
        ("Lorraine Bracco", 1, 0, Decimal("8.70")),
        ("Jodie Foster", 1, 0, Decimal("8.30")),
        ("Cybill Shepherd", 1, 0, Decimal("8.30")),
        ("Albert Brooks", 1, 0, Decimal("8.30")),
        ("Val Kilmer", 1, 0, Decimal("8.30")),
        ("Jon Voight", 1, 0, Decimal("8.30")),
        ("Michelle Pfeiffer", 1, 0, Decimal("8.30")),
        ("Steven Bauer", 1, 0, Decimal("8.30")),
        ("Mary Elizabeth Mastrantonio", 1, 0, Decimal("8.30")),
        *_single("8.60", "Daveigh Chase", ["Suzanne Pleshette", "Miyu Irino", "Rumi Hiiragi"]),
        *_single("8.40", "Yôji Matsuda", ["Yuriko Ishida", "Yûko Tanaka", "Billy Crudup"]),
        ("Sun-kyun Lee", 1, 0, Decimal("8.60")),
        ("Yeo-jeong Jo", 1, 0, Decimal("8.60")),
        ("Woo-sik Choi", 1, 0, Decimal("8.60")),
        ("Sang-kyung Kim", 1, 0, Decimal("8.10")),
        ("Roe-ha Kim", 1, 0, Decimal("8.10")),
        ("Jae-ho Song", 1, 0, Decimal("8.10")),
        *_single("8.00", "Mia Lund", ["Tom Berg"]),
    ]
)

# (genre, movies, movies_with_gross, total_gross_usd, avg_gross_usd rounded to whole dollars).
GROSS_BY_GENRE = sorted(
    [
        ("Action", 3, 2, 69_812_126, 34_906_063),
        ("Adventure", 2, 2, 12_431_167, 6_215_584),  # 6,215,583.5 rounds up
        ("Animation", 2, 2, 12_431_167, 6_215_584),
        ("Biography", 1, 1, 46_836_394, 46_836_394),
        ("Comedy", 9, 4, 56_367_847, 14_091_962),  # Parasite and three 1960s comedies
        ("Crime", 8, 6, 380_401_179, 63_400_197),
        ("Documentary", 1, 0, None, None),
        ("Drama", 14, 12, 523_740_534, 43_645_045),
        ("Family", 1, 1, 10_055_859, 10_055_859),
        ("Horror", 2, 1, 3_000_000, 3_000_000),
        ("Mystery", 2, 1, 83_471_511, 83_471_511),
        ("Romance", 8, 4, 400_000, 100_000),
        ("Sci-Fi", 4, 4, 20_000_000, 5_000_000),
        ("Short", 4, 0, None, None),
        ("Thriller", 1, 1, 53_367_844, 53_367_844),
        ("War", 1, 1, 83_471_511, 83_471_511),
        ("Western", 8, 0, None, None),
    ]
)
