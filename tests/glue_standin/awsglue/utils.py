"""``getResolvedOptions``: Glue's job arguments, as Glue 6.0 parses them."""

from __future__ import annotations

import argparse

from awsglue import record_call


class GlueArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print and exit; Glue raises
        raise GlueArgumentError(message)


def getResolvedOptions(args, options, allow_abbrev=False):  # Glue's name
    """{name: value} for each name in ``options``; every one must be given as ``--name``. Other
    arguments (Glue's own, such as --job-bookmark-option) are ignored."""
    record_call("awsglue.utils.getResolvedOptions", args, options, allow_abbrev=allow_abbrev)
    parser = _Parser(allow_abbrev=allow_abbrev, add_help=False)
    for name in options:
        parser.add_argument(f"--{name}", required=True)
    known, _ = parser.parse_known_args(list(args[1:]))
    return vars(known)
