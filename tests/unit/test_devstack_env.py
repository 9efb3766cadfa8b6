"""`moviestream stack env` points the tools at the local stack: the main warehouse, or with
`--db demo` the demo's own (what `make query DB=demo` and `make dashboard DB=demo` evaluate)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.tools


def exports(*args: str) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "moviestream", "stack", "env", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())


def test_the_main_and_the_demo_warehouse_differ_only_in_the_database():
    main, demo = exports(), exports("--db", "demo")
    assert main["MOVIESTREAM_WAREHOUSE_DSN"].endswith("/moviestream")
    assert demo["MOVIESTREAM_WAREHOUSE_DSN"].endswith("/moviestream_demo")
    assert {k: v for k, v in main.items() if k != "MOVIESTREAM_WAREHOUSE_DSN"} == {
        k: v for k, v in demo.items() if k != "MOVIESTREAM_WAREHOUSE_DSN"
    }


def test_an_unknown_database_is_refused_with_the_choices():
    done = subprocess.run(
        [sys.executable, "-m", "moviestream", "stack", "env", "--db", "nope"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "Invalid value for '--db'" in done.stderr and "main" in done.stderr
