"""Writes the malformed-input corpus next to this file, and cases.json with each file's outcome.

Run it again after changing a case: `python tests/data/malformed/make_corpus.py`.
"""

import gzip
import json
from pathlib import Path

from moviestream.record import CSV_COLUMNS

HERE = Path(__file__).parent
COLUMNS = list(CSV_COLUMNS)
HEADER = ",".join(COLUMNS)
ROW = (
    'https://p/{n}.jpg,Movie {n},1994,A,142 min,"Crime, Drama",9.{d},"An overview, with commas",80,'
    'Dir,S1,S2,S3,S4,{v},"28,341,469"'
)


def rows(n: int, start: int = 1) -> list[str]:
    return [ROW.format(n=i, d=i % 10, v=10000 + i) for i in range(start, start + n)]


def text(lines: list[str], eol: str = "\n") -> bytes:
    return (eol.join(lines) + eol).encode("utf-8")


# file -> (bytes, expected exit code, rows sent, rows rejected, stderr fragment or None)
CASES = {
    "bom.csv": (b"\xef\xbb\xbf" + text([HEADER, *rows(3)]), 0, 3, 0, None),
    "crlf.csv": (text([HEADER, *rows(3)], "\r\n"), 0, 3, 0, None),
    "bom_crlf.csv": (b"\xef\xbb\xbf" + text([HEADER, *rows(2)], "\r\n"), 0, 2, 0, None),
    "missing_column.csv": (
        text([HEADER.replace(",Gross", ""), *[r.rsplit(",", 2)[0] for r in rows(2)]]),
        2,
        0,
        0,
        "missing column(s) Gross",
    ),
    "extra_column.csv": (text([HEADER + ",Budget", *[r + ",100" for r in rows(3)]]), 0, 3, 0, None),
    "short_row.csv": (text([HEADER, *rows(2), "https://p/x.jpg,Short Movie,1999"]), 0, 2, 1, None),
    "long_row.csv": (text([HEADER, rows(1)[0] + ",surplus,fields", *rows(2, 2)]), 0, 2, 1, None),
    "undecodable_bytes.csv": (
        text([HEADER, *rows(2)]) + rows(1, 3)[0].replace("Movie", "Mov\xe9").encode("latin-1") + b"\n",
        0,
        2,
        1,
        None,
    ),
    "empty.csv": (b"", 2, 0, 0, "the file is empty"),
    "header_only.csv": (text([HEADER]), 0, 0, 0, None),
    "embedded_newlines.csv": (
        text([HEADER, rows(1)[0].replace("An overview, with commas", "Line one\nline two"), *rows(1, 2)]),
        0,
        2,
        0,
        None,
    ),
    # The open quote runs into the next row and closes at its first quote: the two become one
    # rejected row (its raw text in the rejects file holds both); the row after that reads normally.
    "unterminated_quote.csv": (
        text([HEADER, *rows(2), 'https://p/9.jpg,"Broken quote,1994,A'] + rows(2, 10)),
        0,
        3,
        1,
        None,
    ),
    "latin1_header.csv": (
        (HEADER.replace("Series_Title", "S\xe9ries_Title") + "\n").encode("latin-1") + text(rows(1)),
        2,
        0,
        0,
        "header is not valid UTF-8",
    ),
    "duplicate_column.csv": (
        text([HEADER + ",Gross", *[r + ",1" for r in rows(1)]]),
        2,
        0,
        0,
        "duplicated column(s) Gross",
    ),
    "blank_lines.csv": (text([HEADER, "", *rows(1), "", "", *rows(1, 2), ""]), 0, 2, 0, None),
    "padded_header.csv": (text([", ".join(f" {c} " for c in COLUMNS), *rows(2)]), 0, 2, 0, None),
    "gzipped.csv.gz": (
        gzip.compress(text([HEADER, *rows(2)]), mtime=0),
        2,
        0,
        0,
        "the header is not valid UTF-8 (it is gzip-compressed: decompress it, or load it with moviestream backfill)",
    ),
    "utf16.csv": (
        ("\ufeff" + HEADER + "\n" + "\n".join(rows(1)) + "\n").encode("utf-16-le"),
        2,
        0,
        0,
        "the header is not valid UTF-8 (it is UTF-16: save it as UTF-8)",
    ),
    "nul_byte.csv": (
        text([HEADER, rows(1)[0].replace("An overview", "An\x00overview"), *rows(1, 2)]),
        0,
        2,
        0,
        None,
    ),
    "only_newlines.csv": (b"\n\n\n", 2, 0, 0, "missing column(s)"),
    "two_mb_field.csv": (
        text([HEADER, rows(1)[0].replace("An overview, with commas", "x" * (2 * 1024 * 1024)), *rows(2, 2)]),
        0,
        2,
        1,
        None,
    ),
}

if __name__ == "__main__":
    manifest = {}
    for name, (data, code, sent, rejected, fragment) in CASES.items():
        (HERE / name).write_bytes(data)
        manifest[name] = {"exit_code": code, "rows_sent": sent, "rows_rejected": rejected, "stderr": fragment}
    (HERE / "cases.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(CASES)} files")
