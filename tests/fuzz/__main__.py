"""``python -m tests.fuzz TARGET [libFuzzer flags] [corpus dirs or files]``: one fuzz target of
tests/fuzz/targets.py under atheris (coverage-guided, libFuzzer's engine). ``make fuzz`` runs
every target for a time you choose; an input that breaks an invariant is written where
``-artifact_prefix`` says, to be kept under tests/data/fuzz/<target>/ as a regression case."""

from __future__ import annotations

import sys

import atheris

# The parsers whose branches guide the fuzzer; imported first inside instrument_imports.
INSTRUMENTED = [
    "moviestream.core.deaggregate",
    "moviestream.core.transform",
    "moviestream.core.movie_key",
    "moviestream.core.csv_source",
    "moviestream.producer.parallel",
    "moviestream.backfill.inputs",
]
TARGETS = ("kinesis", "csv", "archive")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.stderr.write(f"usage: python -m tests.fuzz {'|'.join(TARGETS)} [libFuzzer flags] [corpus]\n")
        sys.exit(2)
    name = sys.argv.pop(1)
    with atheris.instrument_imports(include=INSTRUMENTED):
        from tests.fuzz import targets
    atheris.Setup(sys.argv, targets.TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
