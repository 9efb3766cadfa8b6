"""A health page whose data holds hostile text (film titles a producer can send) still renders
every chart in Chromium, and shows the text as text (issue 30)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from moviestream.health.page import _script_json, render
from moviestream.health.summary import page_data
from tests.browser import chromium, screenshot
from tests.browser import render as render_in_chromium
from tests.unit.test_health_summary import URI, bad_file, facts, ledger_row

pytestmark = pytest.mark.tools  # Chromium is another program

HOSTILE = [
    "<!--<script>",  # leaves a script block open in the HTML parser: every chart vanished
    "</script><h1>x</h1>",
    "a\u2028b\u2029c & <b>d</b>",
    # (no "-->" here: it would end the escaped state "<!--" opened, and hide the bug)
]


def test_embedded_json_escapes_what_the_html_parser_reads_and_means_the_same():
    value = {"titles": HOSTILE}
    text = _script_json(value)
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == value


def test_a_page_with_hostile_titles_draws_every_chart_and_shows_the_titles_as_text(tmp_path):
    assert chromium(), "Debian's chromium is missing: scripts/prereqs installs it (make setup)"
    ledger = [ledger_row(i) for i in range(6)]
    files = {}
    for row in ledger:
        file = bad_file(row["batch_id"], lines=len(HOSTILE) + 1)
        for record, title in zip(file.records, HOSTILE, strict=False):
            record["title"] = title
            record["reasons"] = [f'IsComplete "certificate": bad {title}']
        files[URI.format(row["batch_id"])] = file
    # Reasons in the quarantine index are outside text too (a record's reasons name its values).
    quarantined = [{"reason": f"bad {t}", "age": "under 1 hour", "records": 2} for t in HOSTILE]
    data = page_data(dataclasses.replace(facts(ledger, files), quarantine_open=quarantined,
                                         quarantine_by_status={"open": 2 * len(HOSTILE)}))  # fmt: skip
    page = tmp_path / "hostile.html"
    page.write_text(render(data, title="hostile titles"), encoding="utf-8")
    rendered = render_in_chromium(page)
    assert rendered.console == [], rendered.console
    # Every chart drew (Vega gives each mark role="graphics-symbol"): 6 batches, 2 lines.
    from tests.integration.test_health_page import _marks

    marks = _marks(rendered.dom)
    assert marks["chart-throughput"]["point"] == 12
    assert marks["chart-lag"]["point"] == 18 and marks["chart-duration"]["bar"] == 24
    assert marks["chart-reasons"]["bar"] == len(data["reasons_over_time"]) > 0
    assert marks["chart-quarantine"]["bar"] == len(data["quarantine"]["open_by_reason_age"]) > 0
    # The titles are text in the page, never markup.
    assert "&lt;!--&lt;script&gt;" in rendered.dom and "<h1>x</h1>" not in rendered.dom
    shot = screenshot(page, tmp_path / "hostile.png", height=1600)
    assert shot.stat().st_size > 50_000
