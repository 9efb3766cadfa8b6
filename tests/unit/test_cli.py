"""The one `moviestream` command: its subcommands, their help, and the exit codes' table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from moviestream.cli import SUBCOMMANDS, main
from moviestream.cli.exit_codes import ExitCode

ROOT = Path(__file__).parents[2]
EVERY_COMMAND = {
    "replay": [],
    "generate": [],
    "from-vega-movies": [],
    "job": [],
    "backfill": [],
    "quality": ["check", "lint", "recommend", "annotate", "history"],
    "warehouse": ["apply", "views", "query", "check", "refresh"],
    "health": ["page", "watch"],
    "quarantine": ["reindex", "list", "show", "dismiss", "replay"],
    "stack": ["up", "down", "status", "env", "bootstrap", "demo"],
}


@pytest.mark.tools
def test_the_console_script_and_python_m_list_every_subcommand():
    script = Path(sys.executable).parent / "moviestream"
    outputs = [
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
        for argv in ([str(script), "--help"], [sys.executable, "-m", "moviestream", "--help"])
    ]
    assert outputs[0] == outputs[1]
    listed = re.findall(r"^  ([a-z-]+)  ", outputs[0].split("Commands:", 1)[1], re.M)
    assert listed == list(EVERY_COMMAND) == list(SUBCOMMANDS)


@pytest.fixture
def environment_kept():
    """`moviestream stack` points the process at the default local stack (os.environ.update) as
    its group runs, --help included: put the environment back, or a later test on this worker
    talks to 127.0.0.1:4566 instead of the test stack (it did, under two workers)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("command", list(EVERY_COMMAND))
def test_every_subcommand_and_its_own_subcommands_have_help(command, environment_kept):
    runner = CliRunner()
    for path in [[command], *([command, sub] for sub in EVERY_COMMAND[command])]:
        result = runner.invoke(main, [*path, "--help"], prog_name="moviestream")
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith(f"Usage: moviestream {' '.join(path)} "), result.output
    group = main.get_command(None, command)  # type: ignore[arg-type]
    assert sorted(getattr(group, "commands", {})) == sorted(EVERY_COMMAND[command])


def test_an_unknown_command_or_flag_is_a_usage_error():
    runner = CliRunner()
    assert runner.invoke(main, ["nope"]).exit_code == ExitCode.USAGE == 2
    assert runner.invoke(main, ["warehouse", "views", "--nope"]).exit_code == 2


def test_the_exit_code_table_in_the_docs_is_the_code():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text[text.index("### Exit codes") :]
    table = section[: section.index("\n### ", 5)]
    documented = {int(code): name for code, name in re.findall(r"^\| (\d+) \| `(\w+)` \|", table, re.M)}
    assert documented == {code.value: code.name for code in ExitCode}
    assert (ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.STACK_DOWN, ExitCode.INTERRUPTED) == (
        0,
        1,
        2,
        3,
        130,
    )
