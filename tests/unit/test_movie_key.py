import orjson

from moviestream.core.movie_key import movie_id, normalise_text


def test_normalisation_ignores_case_spacing_and_unicode_forms():
    assert normalise_text("  The   Godfather ") == "the godfather"
    assert normalise_text("Ｌéon") == normalise_text("léon")  # full-width L (NFKC) and case
    assert normalise_text(None) == ""


def test_same_title_and_year_is_the_same_movie():
    assert movie_id("The Godfather", "1972") == movie_id(" the  GODFATHER", "1972 ")


def test_same_title_other_year_is_another_movie():
    assert movie_id("Scarface", "1932") != movie_id("Scarface", "1983")


def test_key_is_16_hex_characters_and_stable():
    key = movie_id("Amélie", "2001")
    assert len(key) == 16 and int(key, 16) >= 0
    # Pinned: the key is a contract (partition key, warehouse primary key); it must never drift.
    assert key == movie_id("AMÉLIE", "2001")
    assert movie_id("", "") == movie_id(None, None)


def test_the_job_derives_the_producers_key_from_the_envelope():
    from moviestream.core.transform import movie_key

    pairs = [("The Godfather", "1972"), ("Amélie", "2001"), ("千と千尋の神隠し", "2001"), (None, "PG")]
    for title, year in pairs:
        doc = {"schema_version": 1, "fields": {"Series_Title": title, "Released_Year": year}}
        assert movie_key(orjson.dumps(doc)) == movie_id(title, year)
    # A number where a string belongs reads as its JSON text, as Spark's map<string,string> does.
    assert movie_key(b'{"fields": {"Series_Title": "x", "Released_Year": 1999}}') == movie_id("x", "1999")
    for not_an_envelope in (b"", b"not json", b"[1, 2]", b'{"fields": "x"}', b'{"a": 1}', b"\xff{}"):
        assert movie_key(not_an_envelope) is None
