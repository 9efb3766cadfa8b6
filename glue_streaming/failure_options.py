"""The failure policy's command-line options, shared by the local streaming job and the backfill
(moviestream/failure.py says what they mean)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def failure_options(give_up_default: float) -> Callable[[Any], Any]:
    """--degraded-after-seconds and --give-up-after-seconds (0: never)."""

    def decorate(command: Any) -> Any:
        command = click.option(
            "--give-up-after-seconds",
            type=click.FloatRange(min=0),
            default=give_up_default,
            show_default=True,
            envvar="MOVIESTREAM_GIVE_UP_AFTER_S",
            help="End with an error when S3 or the warehouse stays unreachable this long (0: never).",
        )(command)
        return click.option(
            "--degraded-after-seconds",
            type=click.FloatRange(min=0),
            default=60.0,
            show_default=True,
            envvar="MOVIESTREAM_DEGRADED_AFTER_S",
            help="Alert (degraded) when S3 or the warehouse stays unreachable this long; retries go on.",
        )(command)

    return decorate
