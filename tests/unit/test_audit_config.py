"""`make audit`'s ignore file (audit-ignore.toml): every entry says what blocks the fix and why
the code is not reached, and names a lock the audit checks."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_ignore_names_a_checked_lock_and_says_why():
    audit = _audit_module()
    entries = tomllib.loads((ROOT / "audit-ignore.toml").read_text())["ignore"]
    assert entries
    for entry in entries:
        assert entry["lock"] in audit.LOCKS and (ROOT / entry["lock"]).is_file(), entry
        assert entry["package"].lower() in (ROOT / entry["lock"]).read_text().lower(), entry
        assert len(entry["blocked_by"]) > 20 and len(entry["not_reached"]) > 20, entry
    assert set(audit.LOCKS) == {str(p.relative_to(ROOT)) for p in ROOT.glob("**/*.lock") if _ours(p)}


def _ours(path: Path) -> bool:
    return not any(part in {".venv", ".local", "node_modules", "build", "mutants"} for part in path.parts)


def _audit_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("audit", ROOT / "scripts" / "audit.py")
    assert spec and spec.loader
    audit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(audit)
    return audit


def test_an_ignored_advisory_matches_by_any_of_its_ids_and_only_in_its_lock():
    """pip-audit's JSON (its report's shape): one advisory listed by its CVE alias, one not listed,
    one pin the service could not look up."""
    audit = _audit_module()
    report = {
        "dependencies": [
            {
                "name": "pyopenssl",
                "version": "24.2.1",
                "vulns": [
                    {"id": "GHSA-5pwr-322w-8jr4", "aliases": ["CVE-2026-27459"], "fix_versions": ["26.0.0"]},
                    {"id": "PYSEC-0000-1", "aliases": [], "fix_versions": []},
                ],
            },
            {"name": "altair", "version": "6.3.0", "skip_reason": "Dependency not found on PyPI"},
        ]
    }
    findings = audit.findings_of(report)
    entry = {"blocked_by": "a cap", "not_reached": "local only"}
    lines, failed = audit.judge("a.lock", findings, {("a.lock", "CVE-2026-27459"): entry})
    assert lines == [
        "ignored  a.lock: pyopenssl 24.2.1 GHSA-5pwr-322w-8jr4: a cap",
        "FOUND    a.lock: pyopenssl 24.2.1 PYSEC-0000-1 (fixed in none yet)",
        "UNKNOWN  a.lock: 1 pins could not be audited (altair): Dependency not found on PyPI",
    ]
    assert failed == 2
    _, failed_elsewhere = audit.judge("b.lock", findings, {("a.lock", "CVE-2026-27459"): entry})
    assert failed_elsewhere == 3
