"""The fuzz targets in ``make test``: every kept case replayed (seeds and the inputs that once
broke an invariant, tests/data/fuzz/<target>/), then a short coverage-guided run with a fixed
seed. ``make fuzz`` runs the same targets for as long as you choose."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

pytestmark = pytest.mark.tools

ROOT = Path(__file__).parents[2]
CASES = ROOT / "tests" / "data" / "fuzz"
RUNS = 1500  # per target: a few seconds each


def _cases() -> list[tuple[str, Path]]:
    return [(t, p) for t in TARGETS for p in sorted((CASES / t).iterdir())]


@pytest.mark.parametrize(("target", "case"), _cases(), ids=lambda v: getattr(v, "name", v))
def test_kept_cases_hold_the_accounting(target, case):
    TARGETS[target](case.read_bytes())


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_seeded_fuzz_run_breaks_no_invariant(target, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CASES / target, corpus)  # libFuzzer adds what it finds to its first folder
    run = subprocess.run(
        [sys.executable, "-m", "tests.fuzz", target, f"-runs={RUNS}", "-seed=1", "-max_len=4096"]
        + [f"-artifact_prefix={tmp_path}/", str(corpus)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # libFuzzer's last line says how many inputs ran ("Done 1501 runs in 2 second(s)"); its
    # "#1500 DONE" stats line is not always printed (a run that ends on its last mutation skips it).
    done = re.findall(r"^Done (\d+) runs in", run.stderr, flags=re.M)
    assert done and int(done[-1]) >= RUNS, run.stderr[-3000:]
    assert not list(tmp_path.glob("crash-*"))
