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
    deps = report.get("dependencies", [])
    findings = [
        {"package": d["name"], "version": d["version"], "id": v["id"], "fix": v.get("fix_versions", [])}
        for d in deps
        for v in d.get("vulns", [])
    ]
    # A pin the service could not look up is not a clean pin: never report it as one.
    return findings + [
        {"package": d["name"], "version": d.get("version", "?"), "id": NOT_AUDITED, "why": d["skip_reason"]}
        for d in deps
        if d.get("skip_reason")
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pip-audit", required=True, help="the pip-audit executable (tools/audit/)")
    args = parser.parse_args()
    ignored_by = ignores()
    failed = 0
    for lock in LOCKS:
        findings = audit(args.pip_audit, lock)
        for f in findings:
            entry = ignored_by.get((lock, f["id"]))
            what = f"{lock}: {f['package']} {f['version']}"
            if f["id"] == NOT_AUDITED:
                continue  # one line for the lock, below
            if entry:
                print(f"ignored  {what} {f['id']}: {entry['blocked_by']}")
            else:
                failed += 1
                print(f"FOUND    {what} {f['id']} (fixed in {', '.join(f['fix']) or 'none yet'})")
        unknown = [f for f in findings if f["id"] == NOT_AUDITED]
        if unknown:
            failed += len(unknown)
            names = ", ".join(f["package"] for f in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            print(f"UNKNOWN  {lock}: {len(unknown)} pins could not be audited ({names}): {unknown[0]['why']}")
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
