"""The exit codes of every ``moviestream`` command, in one table (docs/ARCHITECTURE.md shows it):

- 0: done, everything it was asked to do worked;
- 1: it ran and found or met a problem: records dead-lettered, rules failed, files unreadable, a
  warehouse check failed, the job stopped on an error, the stack could not start;
- 2: a usage or input error (a bad flag, a missing file, a bad ruleset, an unreachable endpoint):
  one line on stderr, and nothing was done;
- 3: ``stack status``: some part of the local stack is not running;
- 130: interrupted (Ctrl-C or SIGTERM), after what was read was flushed.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import NoReturn

import click


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    STACK_DOWN = 3
    INTERRUPTED = 130


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """One line on stderr, then exit: how every command reports an error a user can cause."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
