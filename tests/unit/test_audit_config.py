"""`make audit`'s ignore file (audit-ignore.toml): every entry says what blocks the fix and why
the code is not reached, and names a lock the audit checks."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_ignore_names_a_checked_lock_and_says_why():
    import importlib.util

    spec = importlib.util.spec_from_file_location("audit", ROOT / "scripts" / "audit.py")
    assert spec and spec.loader
    audit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(audit)
    entries = tomllib.loads((ROOT / "audit-ignore.toml").read_text())["ignore"]
    assert entries
    for entry in entries:
        assert entry["lock"] in audit.LOCKS and (ROOT / entry["lock"]).is_file(), entry
        assert entry["package"].lower() in (ROOT / entry["lock"]).read_text().lower(), entry
        assert len(entry["blocked_by"]) > 20 and len(entry["not_reached"]) > 20, entry
    assert set(audit.LOCKS) == {str(p.relative_to(ROOT)) for p in ROOT.glob("**/*.lock") if _ours(p)}


def _ours(path: Path) -> bool:
    return not any(part in {".venv", ".local", "node_modules", "build", "mutants"} for part in path.parts)
