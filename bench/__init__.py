"""Benchmarks: each prints its figures and writes them as JSON (``results_path``). ``make bench-*``
runs them at full size; ``tests/integration/test_benchmarks.py`` runs each once at a tiny scale
(the sizes come from ``BENCH_*`` variables) into a folder of its own, so the recorded full-size
figures are never overwritten by a smoke run."""

from __future__ import annotations

import os
from pathlib import Path


def results_path(name: str) -> Path:
    """Where a benchmark writes its JSON: ``$BENCH_RESULTS_DIR/<name>.json``, by default
    bench/results/."""
    return Path(os.environ.get("BENCH_RESULTS_DIR", "bench/results")) / f"{name}.json"
