"""`make audit`: every lock file of the project checked against the advisories PyPI publishes.

pip-audit reads each hashed lock as it is (``--no-deps --disable-pip``: nothing is resolved or
installed) and asks PyPI's vulnerability data (``--vulnerability-service pypi``; OSV is not
reachable from these machines). A finding listed in audit-ignore.toml for that lock is reported
as ignored, with its reason; any other finding fails the run. One line per finding.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = (
    "requirements.lock",
    "moviestream/devstack/localstack-requirements.lock",
    "tools/terraform-checks/requirements.lock",
    "tools/audit/requirements.lock",
    "bench/quality-requirements.lock",
)
IGNORES = ROOT / "audit-ignore.toml"
NOT_AUDITED = "NOT-AUDITED"


def ignores() -> dict[tuple[str, str], dict[str, str]]:
    """(lock, advisory id) -> its entry; every entry must say what blocks the fix and why the
    affected code is not reached."""
    entries = tomllib.loads(IGNORES.read_text("utf-8")).get("ignore", [])
    out = {}
    for entry in entries:
        missing = [k for k in ("id", "package", "lock", "blocked_by", "not_reached") if not entry.get(k)]
        if missing:
            raise SystemExit(f"error: {IGNORES.name}: an entry lacks {', '.join(missing)}: {entry}")
        out[(entry["lock"], entry["id"])] = entry
    return out


def audit(pip_audit: str, lock: str) -> list[dict]:
    """The lock's findings: one dict per (package, advisory)."""
    run = subprocess.run(
        [pip_audit, "--requirement", str(ROOT / lock), "--no-deps", "--disable-pip", "--require-hashes",
         "--vulnerability-service", "pypi", "--format", "json", "--progress-spinner", "off"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    try:
        report = json.loads(run.stdout)
    except ValueError:
        lines = (run.stderr or run.stdout).strip().splitlines()
        raise SystemExit(
            f"error: pip-audit could not check {lock}: {lines[-1] if lines else run.returncode}"
        ) from None
    return findings_of(report)


def findings_of(report: dict) -> list[dict]:
    """pip-audit's JSON report as findings: one dict per (package, advisory), and one per pin the
    service could not look up."""
    deps = report.get("dependencies", [])
    findings = [
        {
            "package": d["name"],
            "version": d["version"],
            "id": v["id"],
            "aliases": v.get("aliases", []),
            "fix": v.get("fix_versions", []),
        }
        for d in deps
        for v in d.get("vulns", [])
    ]
    # A pin the service could not look up is not a clean pin: never report it as one.
    return findings + [
        {"package": d["name"], "version": d.get("version", "?"), "id": NOT_AUDITED, "why": d["skip_reason"]}
        for d in deps
        if d.get("skip_reason")
    ]


def judge(lock: str, findings: list[dict], ignored_by: dict) -> tuple[list[str], int]:
    """(one line per finding, or one for the lock's pins that could not be audited; how many
    count against the audit): an advisory the ignore file lists for this lock, by any of its ids
    (PYSEC, GHSA or CVE), is reported but does not count."""
    lines: list[str] = []
    failed = 0
    for f in findings:
        if f["id"] == NOT_AUDITED:
            continue  # one line for the lock, below
        entry = next(
            (ignored_by[(lock, i)] for i in (f["id"], *f.get("aliases", [])) if (lock, i) in ignored_by), None
        )
        what = f"{lock}: {f['package']} {f['version']}"
        if entry:
            lines.append(f"ignored  {what} {f['id']}: {entry['blocked_by']}")
        else:
            failed += 1
            lines.append(f"FOUND    {what} {f['id']} (fixed in {', '.join(f['fix']) or 'none yet'})")
    unknown = [f for f in findings if f["id"] == NOT_AUDITED]
    if unknown:
        failed += len(unknown)
        names = ", ".join(f["package"] for f in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        lines.append(
            f"UNKNOWN  {lock}: {len(unknown)} pins could not be audited ({names}): {unknown[0]['why']}"
        )
    return lines, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pip-audit", required=True, help="the pip-audit executable (tools/audit/)")
    args = parser.parse_args()
    ignored_by = ignores()
    failed = 0
    for lock in LOCKS:
        findings = audit(args.pip_audit, lock)
        lines, not_ignored = judge(lock, findings, ignored_by)
        for line in lines:
            print(line)
        failed += not_ignored
        if not findings:
            print(f"clean    {lock}")
    stale = [k for k in ignored_by if k[0] not in LOCKS]
    for lock, vuln in stale:
        print(f"FOUND    {IGNORES.name}: {vuln} names {lock}, which is not a lock of the project")
    failed += len(stale)
    print(
        f"{failed} finding(s) not in {IGNORES.name}, or pins that could not be audited"
        if failed
        else f"audit clean, apart from {IGNORES.name}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
