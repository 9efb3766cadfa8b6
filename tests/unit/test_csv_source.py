import io
import re

import pytest

from moviestream.core.csv_source import InputError, Reject, Row, check_input, read_rows
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
