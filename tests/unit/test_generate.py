import csv

from moviestream.core.generate import DEFECTS, generate
from moviestream.core.record import CSV_COLUMNS


def test_deterministic_for_a_seed_and_different_across_seeds(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    generate(a, 500, seed=1)
    generate(b, 500, seed=1)
    generate(c, 500, seed=2)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_every_defect_class_and_the_real_files_quirks_appear(tmp_path):
    path = tmp_path / "m.csv"
    counts = generate(path, 3000, seed=3, defect_rate=0.3)
    assert set(counts) == set(DEFECTS) and all(counts[d] > 0 for d in DEFECTS)
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == 3000
    assert any("," in r["Series_Title"] for r in rows)  # quoted commas
    assert any(not r["Series_Title"].isascii() for r in rows)  # non-ASCII titles
    assert any(r["Runtime"].endswith(" min") for r in rows)
    assert any("," in r["Gross"] for r in rows)  # "28,341,469"
    assert any(", " in r["Genre"] for r in rows)  # "Crime, Drama"
    assert any(not r["Released_Year"].isdigit() for r in rows)  # the odd non-numeric year
    assert any(r["Meta_score"] == "" for r in rows)  # empty fields


def test_a_sample_row_is_the_same_for_its_number_and_every_tenth_has_the_next_defect():
    from moviestream.core.generate import sample_row

    assert sample_row(7) == sample_row(7) and sample_row(7) != sample_row(8)
    clean = sample_row(7)
    assert tuple(clean) == CSV_COLUMNS and 8.05 <= float(clean["IMDB_Rating"]) <= 9.3
    assert clean["Runtime"].endswith(" min") and clean["Released_Year"].isdigit()
    # The defects in DEFECTS' order, resent_update left out: row 90 is the ninth tenth row.
    assert sample_row(90)["IMDB_Rating"] == ""  # missing_rating
    assert sample_row(10)["IMDB_Rating"] in ("10.4", "11.2", "12.0", "0.0")  # rating_out_of_range
    assert sample_row(20)["IMDB_Rating"] in ("N/A", "eight", "8,5", "?")  # rating_not_numeric
    assert sample_row(50)["Series_Title"].strip() == ""  # missing_title
    assert sample_row(80).values() != clean.values() and list(sample_row(80).values()).count("") >= 3
