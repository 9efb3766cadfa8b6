from moviestream.movie_key import movie_id, normalise_text


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


def test_spark_udf_agrees_with_python(spark):
    from moviestream.spark_udfs import movie_id_udf

    pairs = [
        ("The Godfather", "1972"),
        ("Amélie", "2001"),
        ("千と千尋の神隠し", "2001"),
        (None, "PG"),
        ("  x ", None),
    ]
    df = spark.createDataFrame(pairs, "title string, year string")
    got = [r[0] for r in df.select(movie_id_udf("title", "year")).collect()]
    assert got == [movie_id(t, y) for t, y in pairs]
