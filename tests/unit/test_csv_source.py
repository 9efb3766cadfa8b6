import csv
import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moviestream.core import csv_source
from moviestream.core.csv_source import InputError, ReadLimits, Reject, Row, check_input, read_rows
from moviestream.core.record import CSV_COLUMNS

HEADER = ",".join(CSV_COLUMNS)
GOOD = (
    'https://p/1.jpg,"The Shawshank Redemption, Part 1",1994,A,142 min,"Crime, Drama",9.3,'
    '"Two ""men"", bonded",80,Frank,Tim,Morgan,Bob,William,2343110,"28,341,469"'
)


def rows(data: bytes):
    return list(read_rows(io.BytesIO(data), "test.csv"))


def test_quoted_commas_quotes_bom_and_crlf():
    got = rows(("\ufeff" + HEADER + "\r\n" + GOOD + "\r\n").encode("utf-8"))
    assert len(got) == 1 and isinstance(got[0], Row)
    values = dict(zip(got[0].header, got[0].values, strict=True))
    assert values["Series_Title"] == "The Shawshank Redemption, Part 1"
    assert values["Overview"] == 'Two "men", bonded'
    assert values["Gross"] == "28,341,469"
    assert got[0].header[0] == "Poster_Link"  # the BOM is not part of the first column name


def test_embedded_newline_keeps_row_and_reports_physical_line():
    data = HEADER + "\n" + GOOD.replace("Two", "Two\nlines") + "\n" + GOOD + "\n"
    got = rows(data.encode())
    assert [r.row_number for r in got] == [1, 2]
    assert [r.line_number for r in got] == [3, 4]


def test_wrong_field_count_and_bad_bytes_are_rejected_not_sent():
    data = (
        (HEADER + "\n" + GOOD + "\nshort,row\n").encode()
        + GOOD.encode().replace(b"Frank", b"Fr\xffnk")
        + b"\n"
    )
    got = rows(data)
    assert isinstance(got[0], Row)
    assert isinstance(got[1], Reject) and got[1].reason == "expected 16 fields, found 2"
    assert isinstance(got[2], Reject) and "undecodable" in got[2].reason and got[2].row_number == 3


def test_extra_columns_are_carried_along():
    got = rows((HEADER + ",Extra\n" + GOOD + ",x\n").encode())
    assert got[0].header[-1] == "Extra" and got[0].values[-1] == "x"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (HEADER.replace(",Gross", "").encode() + b"\n", "missing column(s) Gross"),
        ((HEADER + ",Gross\n").encode(), "duplicated column(s) Gross"),
    ],
)
def test_bad_headers_are_input_errors(data, message):
    with pytest.raises(InputError, match=re.escape(message)):
        rows(data)


def test_header_only_file_has_no_rows():
    assert rows((HEADER + "\n").encode()) == []


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        check_input(str(tmp_path / "nope.csv"))
    with pytest.raises(InputError, match="not a file"):
        check_input(str(tmp_path))


# -- the reader against the csv module, at any block size -------------------------------------

# Characters that make CSV hard: the delimiter, quotes, every kind of line end, non-ASCII text.
FIELD = st.text(alphabet=st.sampled_from(list('ab ,"\n\ré€')), max_size=6)


def oracle(text: str) -> list[tuple[tuple[str, ...], int]]:
    """What the csv module reads from the same text opened with newline="": each record's values
    and the physical line it ends on (blank lines skipped, as the reader skips them)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    next(reader)
    return [(tuple(values), reader.line_num) for values in reader if values]


@given(
    records=st.lists(st.lists(FIELD, min_size=16, max_size=16), max_size=5),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    last_line_end=st.booleans(),
    bom=st.booleans(),
    block=st.integers(min_value=1, max_value=40),
)
@settings(max_examples=300)
def test_rows_and_their_lines_match_the_csv_module_at_any_block_size(
    records, line_end, last_line_end, bom, block
):
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=line_end).writerows([list(CSV_COLUMNS), *records])
    text = out.getvalue() if last_line_end else out.getvalue().removesuffix(line_end)
    data = ("\ufeff" if bom else "").encode() + text.encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_source, "_BLOCK", block)  # a record split across blocks at every point
        got = rows(data)
    assert all(isinstance(r, Row) for r in got)
    assert [(r.values, r.line_number) for r in got] == oracle(text)
    assert [r.row_number for r in got] == list(range(1, len(got) + 1))


ROW = ",".join(["x"] * 16)


def read_in_blocks(data: bytes, block: int, limits: ReadLimits) -> list[Row | Reject]:
    """read_rows over ``data`` with the reader's block size set to ``block`` bytes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_source, "_BLOCK", block)
        return list(read_rows(io.BytesIO(data), "t.csv", limits))


@pytest.mark.parametrize("block", [1, 3, 7, 1024 * 1024])
def test_an_unclosed_quote_ends_the_file_as_one_reject_naming_its_row_line_and_byte(block):
    data = f'{HEADER}\n{ROW}\n{ROW}\r\n"open,{ROW}\n{"y" * 300}\nmore\n'.encode()
    got = read_in_blocks(data, block, ReadLimits(field_bytes=64, row_bytes=200, raw_bytes=9))
    assert [type(r).__name__ for r in got] == ["Row", "Row", "Reject"]
    assert [(r.row_number, r.line_number) for r in got] == [(1, 2), (2, 3), (3, 4)]
    start = len(HEADER) + 1 + len(ROW) + 1 + len(ROW) + 2
    assert got[2].reason == (
        f"the record is over the row cap of 200 bytes (row 3, from line 4, byte {start}); the rest of the file is not read"
    )
    assert got[2].raw == '"open,x,x'  # the first raw_bytes of the record


@pytest.mark.parametrize("block", [2, 5, 1024 * 1024])
def test_a_field_over_its_cap_rejects_its_row_with_the_size_and_reading_goes_on(block):
    long_title = "é" * 20  # 40 bytes in UTF-8
    data = f"{HEADER}\n{GOOD}\n{GOOD.replace('Frank', long_title)}\n{GOOD}\n".encode()
    got = read_in_blocks(data, block, ReadLimits(field_bytes=39, row_bytes=10_000, raw_bytes=12))
    assert [type(r).__name__ for r in got] == ["Row", "Reject", "Row"]
    assert got[1].reason == "field Director is 40 bytes, over the field cap of 39"
    assert (got[1].row_number, got[1].line_number, got[1].raw) == (2, 3, "https://p/1.")
    assert got[2].row_number == 3 and got[2].line_number == 4


def test_a_field_at_its_cap_is_kept():
    data = f"{HEADER}\n{GOOD.replace('Frank', 'é' * 20)}\n".encode()
    got = list(read_rows(io.BytesIO(data), "t.csv", ReadLimits(field_bytes=40, row_bytes=10_000)))
    assert isinstance(got[0], Row)


@pytest.mark.parametrize(
    ("limits", "ok"),
    [((1, 1, 0), True), ((0, 1, 0), False), ((1, 0, 0), False), ((1, 1, -1), False)],
)
def test_the_caps_must_be_at_least_one_byte(limits, ok):
    if ok:
        assert ReadLimits(*limits).raw_bytes == 0
    else:
        with pytest.raises(ValueError, match=r"^the field and row caps must be at least 1 byte$"):
            ReadLimits(*limits)


def test_a_header_over_the_row_cap_is_an_input_error():
    with pytest.raises(InputError, match=r"^t.csv: the header is over the row cap of 10 bytes$"):
        list(read_rows(io.BytesIO(f"{HEADER}\n{GOOD}\n".encode()), "t.csv", ReadLimits(row_bytes=10)))


def test_an_undecodable_row_keeps_its_text_with_replacement_characters():
    data = (HEADER + "\n").encode() + GOOD.encode().replace(b"Frank", b"Fr\xffnk") + b"\n"
    (reject,) = rows(data)
    assert reject.reason == "undecodable bytes (not UTF-8)"
    assert (reject.row_number, reject.line_number) == (1, 2)
    assert "Fr\ufffdnk" in reject.raw and reject.raw.startswith("https://p/1.jpg,The Shawshank")


class Trickle(io.RawIOBase):
    """A stream that returns at most ``n`` bytes per read, as a network body may."""

    def __init__(self, data: bytes, n: int) -> None:
        self._data, self._n = data, n

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk, self._data = self._data[: self._n], self._data[self._n :]
        return chunk


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_a_bom_split_across_short_reads_is_still_dropped(n):
    """Found by the property test above: a first read holding only part of the BOM (or exactly
    the BOM) made the header unreadable or the file look empty."""
    data = ("\ufeff" + HEADER + "\n" + GOOD + "\n").encode()
    (row,) = list(read_rows(Trickle(data, n), "t.csv"))  # type: ignore[arg-type]
    assert row.header[0] == "Poster_Link" and row.line_number == 2


@pytest.mark.parametrize(
    ("start", "hint"),
    [
        (
            b"\x1f\x8b\x08\x00",
            " (it is gzip-compressed: decompress it, or load it with moviestream backfill)",
        ),
        (b"\xff\xfeP\x00", " (it is UTF-16: save it as UTF-8)"),
        (b"\xfe\xff\x00P", " (it is UTF-16: save it as UTF-8)"),
        (b"\xc3(", ""),
    ],
)
def test_a_header_that_is_not_utf8_says_what_the_file_is(start, hint):
    with pytest.raises(InputError) as raised:
        rows(start + HEADER.encode() + b"\n")
    assert str(raised.value) == f"test.csv: the header is not valid UTF-8{hint}"


def test_the_header_names_are_stripped_and_a_header_only_file_is_empty_of_rows():
    spaced = ",".join(f" {c} " for c in CSV_COLUMNS)
    assert rows((spaced + "\n").encode()) == []
    with pytest.raises(InputError, match=r"^test.csv: the file is empty \(no header row\)$"):
        rows(b"")
    with pytest.raises(
        InputError, match=r"^test.csv: missing column\(s\) Poster_Link, Gross \(expected the 16"
    ):
        rows(HEADER.replace("Poster_Link,", "").replace(",Gross", "").encode())


@pytest.mark.parametrize("block", [1, 4, 1024 * 1024])
def test_the_unreadable_rest_keeps_its_bytes_across_lines_and_blocks(block):
    rest = f'"open,{ROW}\nbad \xff byte\n{"y" * 300}\n'.encode("latin-1")
    data = f"{HEADER}\n{ROW}\n".encode() + rest
    got = read_in_blocks(data, block, ReadLimits(field_bytes=64, row_bytes=200, raw_bytes=60))
    assert [type(r).__name__ for r in got] == ["Row", "Reject"]
    assert got[1].raw == rest[:60].decode("utf-8", "replace")  # the lines joined as they were
    assert "\ufffd" in got[1].raw
