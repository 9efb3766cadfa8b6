"""Headless Chromium (Debian's package) for the tests that look at a page as a person does: the
DOM after its scripts ran, what its console said, and a screenshot. Every network request is
refused (no name resolves, the proxy is a closed port), so a page that needs the network shows
it as errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--enable-logging=stderr",
    "--v=0",
)


@dataclass(frozen=True)
class Rendered:
    dom: str  # the document after its scripts ran
    console: list[str]  # console messages and uncaught errors, as Chromium logged them
    log: str  # all Chromium wrote to stderr


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(page: Path, *extra: str, timeout_s: float = 90) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )


def render(page: Path, budget_ms: int = 15000) -> Rendered:
    """The page's DOM once its scripts have run (virtual time, so charts finish drawing)."""
    result = _run(page, f"--virtual-time-budget={budget_ms}", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if re.search(r"CONSOLE|Uncaught", line)]
    return Rendered(result.stdout, console, result.stderr)


def screenshot(page: Path, out: Path, width: int = 1500, height: int = 3200, budget_ms: int = 15000) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    result = _run(
        page, f"--virtual-time-budget={budget_ms}", f"--window-size={width},{height}", f"--screenshot={out}"
    )
    assert result.returncode == 0 and out.exists(), result.stderr[-2000:]
    return out
