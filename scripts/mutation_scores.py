"""After `mutmut run` (make mutate): the mutation score of each module, the equivalent mutants
listed in tests/data/mutation/equivalent.txt left out, written to bench/results/mutation.json.

A killed mutant is a change some test noticed; a survivor is a line whose behaviour no test pins,
unless it is equivalent (it changes nothing observable), which the list says with a reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).parents[1]
EQUIVALENT = ROOT / "tests" / "data" / "mutation" / "equivalent.txt"
RESULTS = ROOT / "bench" / "results" / "mutation.json"
FLOOR = 80.0
# mutmut's names: <module path>.x_<function>__mutmut_<n>, or <module>.x«Class»«method»__mutmut_<n>
_MODULE = re.compile(r"^(?P<module>[\w.]+?)\.x")


def equivalent() -> dict[str, str]:
    """Mutant name -> why it changes nothing observable."""
    listed = {}
    for line in EQUIVALENT.read_text().splitlines():
        name, _, why = line.partition(" ")
        if name and not name.startswith("#"):
            listed[name] = why.strip()
    return listed


def main() -> int:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "mutmut"), "results", "--all", "true"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    skipped = equivalent()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    survivors: dict[str, list[str]] = defaultdict(list)
    for line in out.splitlines():
        name, _, status = line.strip().partition(": ")
        match = _MODULE.match(name)
        if not match or name in skipped:
            continue
        module = match["module"]
        counts[module][status] += 1
        if status in ("survived", "no tests"):
            survivors[module].append(name)
    if not counts:
        print("error: no mutant was judged: run mutmut run first (make mutate)", file=sys.stderr)
        return 1
    report = {}
    print(f"{'module':<34}{'killed':>8}{'judged':>8}{'score':>8}")
    for module, by_status in sorted(counts.items()):
        # A mutant no test reaches ("no tests") is a survivor too: nothing would notice it.
        judged = (
            by_status["killed"] + by_status["survived"] + by_status["no tests"] + by_status.get("timeout", 0)
        )
        killed = by_status["killed"] + by_status.get("timeout", 0)  # a mutant that hangs is noticed
        score = 100.0 * killed / judged if judged else 100.0
        report[module] = {"killed": killed, "judged": judged, "score": round(score, 1),
                          "survivors": survivors[module], "other": {k: v for k, v in by_status.items()
                          if k not in ("killed", "survived", "no tests", "timeout")}}  # fmt: skip
        print(f"{module:<34}{killed:>8}{judged:>8}{score:>7.1f}%")
    report["equivalent_left_out"] = len(skipped)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"equivalent mutants left out: {len(skipped)}; written to {RESULTS.relative_to(ROOT)}")
    low = [m for m, r in report.items() if isinstance(r, dict) and r["score"] < FLOOR]
    if low:
        print(f"below {FLOOR:g}%: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
