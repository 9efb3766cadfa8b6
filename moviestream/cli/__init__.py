"""``moviestream``: the one command, with a subcommand for everything a user runs.

Each subcommand lives in its own module of this package and is imported only when it runs, so
``moviestream --help`` and the light commands never load Spark. Exit codes: exit_codes.py.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> (module, attribute, one-line help shown by ``moviestream --help``)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "replay": ("producer", "replay_cmd", "Replay a movies CSV (a file or s3:// object) into Kinesis."),
    "generate": ("producer", "generate_cmd", "Write a synthetic movies CSV (deterministic for a seed)."),
    "from-vega-movies": (
        "producer",
        "from_vega_movies_cmd",
        "Convert vega-datasets' real films into a movies CSV.",
    ),
    "job": ("job", "job", "Run the streaming job locally until SIGTERM or Ctrl-C."),
    "backfill": ("backfill", "main", "Load historical movie files through the pipeline."),
    "quality": ("quality", "cli", "Data quality: check data against DQDL rules, lint, recommend."),
    "warehouse": ("warehouse", "cli", "Warehouse: apply the schema, list and query views, check."),
    "health": ("health", "cli", "Write the pipeline's health page, once or continuously."),
    "quarantine": ("quarantine", "cli", "Bad records: reindex, list, show, dismiss."),
    "stack": ("stack", "cli", "The local stack (LocalStack, PostgreSQL): up, down, status, env, demo."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module, attribute, _ = SUBCOMMANDS[cmd_name]
        command = getattr(importlib.import_module(f"moviestream.cli.{module}"), attribute)
        command.name = cmd_name
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The short help comes from the table, so listing the commands imports none of them.
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, _, text) in SUBCOMMANDS.items()])


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(package_name="moviestream", prog_name="moviestream")
def main() -> None:
    """moviestream: movie records from Kinesis through DQDL data quality into the warehouse.

    Every command takes --help. Configuration comes from flags and MOVIESTREAM_* environment
    variables; `eval "$(moviestream stack env)"` points the commands at the local stack."""


def run(argv: list[str] | None = None) -> Any:
    """The console script's entry (``moviestream``) and ``python -m moviestream``'s."""
    return main.main(args=argv, prog_name="moviestream")
