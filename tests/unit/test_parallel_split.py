"""The parallel path reads exactly what the sequential reader reads, on every kind of file.

Chunks are cut by quote parity in the main process and parsed by workers; here both halves run
in-process (tiny blocks force many chunks) and the outcome, with the sequential fallback a
mismatch triggers, is compared with ``read_rows`` row by row.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from moviestream.core.csv_source import DEFAULT_LIMITS, InputError, ReadLimits, Reject, read_rows
from moviestream.core.envelope import envelope_bytes
from moviestream.core.generate import generate
from moviestream.core.record import CSV_COLUMNS
from moviestream.producer import parallel
from moviestream.producer.aggregation import too_large

CORPUS = Path(__file__).parents[1] / "data" / "malformed"
HEADER = ",".join(CSV_COLUMNS)
ROW = (
    'p,"Heat, {n}",1995,R,170 min,"Crime, Drama",8.3,"A ""cop"" and a thief",76,'
    'Mann,Al,Bob,Val,Jon,600000,"67,436,818"'
)


def sequential(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> tuple[list[tuple], list[tuple]]:
    rows, rejects = [], []
    for item in read_rows(io.BytesIO(data), "f.csv", limits):
        if isinstance(item, Reject):
            rejects.append((item.row_number, item.line_number, item.reason))
        elif reason := too_large(*envelope_bytes("f.csv", item, "2026-11-22T10:00:00.000Z")):
            rejects.append((item.row_number, item.line_number, reason))
        else:
            rows.append((item.row_number, item.values))
    return rows, rejects


def chunked(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> tuple[list[tuple], list[tuple], int]:
    """(rows, rejects, chunks) as the parallel path delivers them, falling back like replay does."""
    header, chunks = parallel.split(io.BytesIO(data), "f.csv", limits)
    ctx = parallel.Context("f.csv", "f.csv", header, (0,), ("s0",), False, 0, limits)
    rows, rejects, count = [], [], 0
    for chunk in chunks:
        count += 1
        result = parallel.process_chunk((chunk, ctx))
        if result.mismatch:  # the rest is read sequentially from the chunk's first row
            rest_rows, rest_rejects = sequential(data, limits)
            rows += [r for r in rest_rows if r[0] >= result.first_row]
            rejects += [r for r in rest_rejects if r[0] >= result.first_row]
            return rows, rejects, count
        rejects += [(r["row_number"], r["line_number"], r["reason"]) for r in result.rejects]
        for _, entry in result.entries:
            envelope = orjson.loads(entry.data)
            rows.append((envelope["row_number"], tuple(envelope["fields"].values())))
    return rows, rejects, count


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 700)


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in {".csv", ".gz"})


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_every_corpus_file_reads_the_same_in_chunks(path):
    data = path.read_bytes()
    try:
        expected = sequential(data)
    except InputError:
        with pytest.raises(InputError):
            chunked(data)
        return
    rows, rejects, _ = chunked(data)
    assert (rows, rejects) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("\n".join(ROW.format(n=n) for n in range(40)) + "\n", id="plain"),
        pytest.param("\r\n".join(ROW.format(n=n) for n in range(40)), id="crlf-no-final-newline"),
        pytest.param(
            "\n".join(ROW.format(n=n).replace("cop", "c\nop\n") for n in range(30)) + "\n", id="multiline"
        ),
        pytest.param("\n\n".join(ROW.format(n=n) for n in range(30)) + "\n\r\n\n", id="blank-lines"),
        pytest.param(ROW.format(n=1) + "\n" + ROW.format(n=2).replace('"A ', '"A ' + "x" * 3000), id="long"),
    ],
)
def test_shapes_read_the_same_in_chunks(body):
    data = (HEADER + "\n" + body).encode()
    rows, rejects, chunks = chunked(data)
    assert (rows, rejects) == sequential(data)
    assert chunks > 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(ROW.format(n=1) + '\np,"open quote,1995\n' + ROW.format(n=3), id="open-quote-at-eof"),
        pytest.param(
            "\n".join(ROW.format(n=n) for n in range(5))
            + "\n"
            + ROW.format(n=5).replace("Mann", 'Ma"nn')
            + "\n"
            + "\n".join(ROW.format(n=n) for n in range(6, 40)),
            id="stray-quote-in-unquoted-field",
        ),
    ],
)
def test_quotes_that_fool_the_parity_scan_still_read_the_same(body):
    data = (HEADER + "\n" + body).encode()
    assert chunked(data)[:2] == sequential(data)


def test_generated_file_with_defects(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 64 * 1024)
    path = tmp_path / "g.csv"
    generate(path, rows=2_000, seed=3, defect_rate=0.2)
    data = path.read_bytes().replace(b"\n", b"\n\xff,\n", 1)  # plus an undecodable short row
    rows, rejects, chunks = chunked(data)
    assert (rows, rejects) == sequential(data)
    assert chunks > 5 and len(rejects) == 1


def test_rejects_keep_their_reasons():
    data = (HEADER + "\n" + ROW.format(n=1) + "\nshort,row\n" + ROW.format(n=3) + "\n").encode()
    rows, rejects, _ = chunked(data)
    assert [r[0] for r in rows] == [1, 3]
    assert rejects == [(2, 3, "expected 16 fields, found 2")]


# Caps small enough for files of a few KiB; the readers share them (moviestream/core/csv_source.py).
SMALL = ReadLimits(field_bytes=2_000, row_bytes=6_000, raw_bytes=500)
# Valid CSV rows without quotes: inside a quoted field they stay inside it.
INSIDE = "\n".join(
    f"p,Inside {n},1995,R,170 min,Drama,8.3,inside,76,Mann,Al,Bob,Val,Jon,600000,1" for n in range(5)
)


def _hostile(name: str) -> bytes:
    """Hostile CSV bodies, each between valid rows (the rows the readers must still read)."""
    before = "\n".join(ROW.format(n=n) for n in range(3)) + "\n"
    after = "\n" + "\n".join(ROW.format(n=n) for n in range(10, 13)) + "\n"
    bodies = {
        # A quoted field over the field cap holding CSV lines: its row is rejected, reading goes on.
        "field-over-cap-with-rows-inside": ROW.format(n=1).replace(
            '"A ', '"A ' + "x" * 2_500 + "\n" + INSIDE
        ),
        # Over the row cap: the rest of the file is unreadable, nothing inside it is a row.
        "field-over-row-cap-with-rows-inside": ROW.format(n=1).replace(
            '"A ', '"A ' + "y" * 7_000 + "\n" + INSIDE
        ),
        "unclosed-quote": 'p,"never closed,1995\n' + "\n".join([INSIDE] * 30),
        "no-line-ends": "z" * 20_000,
        "lone-cr-line-ends": "\r".join(ROW.format(n=n) for n in range(20, 25)),
        "ten-thousand-fields": ",".join(["f"] * 10_000),
        "nul-bytes": ROW.format(n="\x00nul\x00"),
        "multibyte-field-over-cap": ROW.format(n=1).replace('"A ', '"A ' + "é" * 1_100),
    }
    return (HEADER + "\n" + before + bodies[name] + after).encode()


HOSTILE = [
    "field-over-cap-with-rows-inside",
    "field-over-row-cap-with-rows-inside",
    "unclosed-quote",
    "no-line-ends",
    "lone-cr-line-ends",
    "ten-thousand-fields",
    "nul-bytes",
    "multibyte-field-over-cap",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_files_read_the_same_in_chunks(name):
    data = _hostile(name)
    assert chunked(data, SMALL)[:2] == sequential(data, SMALL)


@pytest.mark.parametrize("name", HOSTILE)
def test_no_row_holds_bytes_from_inside_a_rejected_field(name):
    rows, rejects = sequential(_hostile(name), SMALL)
    assert not any("inside" in value for _, values in rows for value in values)
    assert bool(rejects) == (name not in ("lone-cr-line-ends", "nul-bytes"))
    assert all(
        len(r.raw.encode()) <= SMALL.raw_bytes + 3
        for r in read_rows(io.BytesIO(_hostile(name)), "f", SMALL)
        if isinstance(r, Reject)
    )


def test_a_field_over_the_cap_rejects_its_row_and_reading_goes_on():
    rows, rejects = sequential(_hostile("field-over-cap-with-rows-inside"), SMALL)
    assert [r[0] for r in rows] == [1, 2, 3, 5, 6, 7]
    assert rejects == [(4, 10, "field Overview is 2894 bytes, over the field cap of 2000")]


def test_a_multibyte_field_is_measured_in_bytes():
    _, rejects = sequential(_hostile("multibyte-field-over-cap"), SMALL)
    assert rejects == [(4, 5, "field Overview is 2219 bytes, over the field cap of 2000")]


def test_a_record_over_the_row_cap_ends_the_file_with_one_reject():
    rows, rejects = sequential(_hostile("field-over-row-cap-with-rows-inside"), SMALL)
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rejects == [
        (
            4,
            5,
            "the record is over the row cap of 6000 bytes (row 4, from line 5, byte 487); "
            "the rest of the file is not read",
        )
    ]
    (reject,) = [
        r
        for r in read_rows(io.BytesIO(_hostile("field-over-row-cap-with-rows-inside")), "f", SMALL)
        if isinstance(r, Reject)
    ]
    assert reject.raw.startswith('p,"Heat, 1",1995') and len(reject.raw) == 500


def test_an_unclosed_quote_and_a_file_without_line_ends_stop_at_the_cap():
    for name in ("unclosed-quote", "no-line-ends"):
        rows, rejects = sequential(_hostile(name), SMALL)
        assert [r[0] for r in rows] == [1, 2, 3]
        assert len(rejects) == 1 and "over the row cap of 6000 bytes (row 4, from line 5" in rejects[0][2]


def test_lone_carriage_returns_end_lines():
    rows, rejects = sequential(_hostile("lone-cr-line-ends"), SMALL)
    assert len(rows) == 3 + 5 + 3 and not rejects


def test_a_header_over_the_row_cap_is_refused_by_both_readers():
    data = (HEADER + ',"' + "h" * 7_000 + '"\n' + ROW.format(n=1) + "\n").encode()
    for read in (sequential, chunked):
        with pytest.raises(InputError, match="the header is over the row cap of 6000 bytes"):
            read(data, SMALL)


def test_a_last_row_without_a_line_end_is_measured_like_any_other():
    # Found by the fuzzer: the last row's size was taken as 0, so its over-long field went unseen.
    data = (
        HEADER + "\n" + ROW.format(n=1) + "\n" + ROW.format(n=2).replace('"A ', '"A ' + "x" * 2_100)
    ).encode()
    expected = (
        [(1, tuple(next(csv.reader([ROW.format(n=1)]))))],
        [(2, 3, "field Overview is 2119 bytes, over the field cap of 2000")],
    )
    assert sequential(data, SMALL) == expected
    assert chunked(data, SMALL)[:2] == expected
