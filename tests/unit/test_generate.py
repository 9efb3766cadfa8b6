import csv

from moviestream.core.record import CSV_COLUMNS
from moviestream.producer.generate import DEFECTS, generate


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
