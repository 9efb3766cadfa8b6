import re
import threading
import time

import orjson

from moviestream.core.csv_source import Row
from moviestream.core.envelope import MillisecondClock, envelope_bytes
from moviestream.core.movie_key import movie_id
from moviestream.core.record import CSV_COLUMNS, Envelope, event_id_for
from moviestream.producer.replay import AckTracker, Pacer


def row(n: int, **values: str) -> Row:
    fields = dict.fromkeys(CSV_COLUMNS, "") | {"Series_Title": "Heat", "Released_Year": "1995"} | values
    return Row(n, n + 1, tuple(fields), tuple(fields.values()))


def test_envelope_bytes_follow_the_model_and_keep_raw_values():
    key, data = envelope_bytes(
        "f.csv", row(3, Gross="1,000", Overview=' "quoted", émigré '), "2026-11-22T10:00:00.000Z"
    )
    env = Envelope.model_validate_json(data)
    assert env.fields["Gross"] == "1,000" and env.fields["Overview"] == ' "quoted", émigré '
    assert (env.source, env.row_number, env.schema_version) == ("f.csv", 3, 1)
    assert key == movie_id("Heat", "1995")
    assert env.event_id == event_id_for(
        "f.csv", 3, row(3, Gross="1,000", Overview=' "quoted", émigré ').values
    )


def test_event_ids_are_stable_and_distinct():
    a = event_id_for("f.csv", 1, ("x", "y"))
    assert a == event_id_for("f.csv", 1, ("x", "y"))
    assert re.fullmatch(r"[0-9a-f]{32}", a)
    assert (
        len(
            {
                a,
                event_id_for("f.csv", 2, ("x", "y")),
                event_id_for("g.csv", 1, ("x", "y")),
                event_id_for("f.csv", 1, ("x", "z")),
                event_id_for("f.csv", 1, ("xy",)),
            }
        )
        == 5
    )


def test_ack_watermark_advances_only_over_contiguous_rows():
    t = AckTracker()
    t.done([2, 3])
    assert t.watermark == 0
    t.done([1])
    assert t.watermark == 3
    t.done([5])
    assert t.watermark == 3
    resumed = AckTracker(start_after=10)
    resumed.done([11])
    assert resumed.watermark == 11


def test_clock_formats_utc_milliseconds():
    text = MillisecondClock().now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)


def test_pacer_paces_by_row_order():
    pacer, stop = Pacer(rate=200), threading.Event()
    start = time.monotonic()
    for _ in range(20):
        pacer.wait(stop)
    assert time.monotonic() - start >= 20 / 200 - 0.01


def test_envelope_json_is_compact_utf8():
    _, data = envelope_bytes("f.csv", row(1, Series_Title="千と千尋"), "t")
    assert "千と千尋".encode() in data
    assert orjson.loads(data)["fields"]["Series_Title"] == "千と千尋"
