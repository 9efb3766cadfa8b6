"""``moviestream stack up|down|status|bootstrap|demo|env``: the local stack from the checkout."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from moviestream.cli.exit_codes import ExitCode
from moviestream.devstack.stack import StackConfig, StackError, down, status, up


@click.group("stack")
def cli() -> None:
    """The local stack: LocalStack, and PostgreSQL standing in for Redshift, with their state in
    .local/ of the checkout (or $MOVIESTREAM_STATE_DIR)."""
    # A local entry point: what it runs in-process talks to the local stack (library code itself
    # uses boto3's normal chains and never assumes LocalStack).
    os.environ.update(StackConfig.from_env().env())


@cli.command("up")
@click.option(
    "--bootstrap/--no-bootstrap",
    default=True,
    show_default=True,
    help="Create the stream, bucket, alert topic + queue and the warehouse schema.",
)
def up_cmd(bootstrap: bool) -> None:
    """Start LocalStack and PostgreSQL (idempotent), then bootstrap resources."""
    cfg = StackConfig.from_env()
    try:
        for line in up(cfg):
            click.echo(line)
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILED)
    if bootstrap:
        _bootstrap(cfg)


def _bootstrap(cfg: StackConfig) -> None:
    from moviestream.core.config import AwsSettings
    from moviestream.devstack.bootstrap import bootstrap

    try:
        created = bootstrap(AwsSettings(), cfg.warehouse_dsn)
    except Exception as exc:  # report any bootstrap failure in one line
        click.echo(f"error: bootstrap failed: {str(exc).splitlines()[0]}", err=True)
        sys.exit(ExitCode.FAILED)
    click.echo("bootstrapped: " + ", ".join(f"{k}={v}" for k, v in created.items()))


@cli.command("bootstrap")
def bootstrap_cmd() -> None:
    """Create the local resources (idempotent)."""
    _bootstrap(StackConfig.from_env())


@cli.command("down")
def down_cmd() -> None:
    """Stop exactly what `up` started."""
    for line in down(StackConfig.from_env()):
        click.echo(line)


@cli.command("status")
@click.option("--json", "as_json", is_flag=True)
def status_cmd(as_json: bool) -> None:
    """Say what runs where."""
    rows = status(StackConfig.from_env())
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        state = "running" if r["running"] else "stopped"
        health = " healthy" if r["healthy"] else (" NOT answering" if r["running"] else "")
        click.echo(
            f"{r['component']:<11} {state}{health}  pid={r['pid'] or '-'}  {r['endpoint']}  log={r['log']}"
        )
    if not all(r["running"] for r in rows):
        sys.exit(ExitCode.STACK_DOWN)


@cli.command("env")
@click.option(
    "--db",
    type=click.Choice(["main", "demo"]),
    default="main",
    show_default=True,
    help="The warehouse the DSN names: the main one, or make demo's own (moviestream_demo).",
)
def env_cmd(db: str) -> None:
    """Print shell exports that point tools at the local stack."""
    for k, v in StackConfig.from_env().env(db).items():
        click.echo(f"export {k}={v}")


@cli.command("demo")
@click.option(
    "--data", type=click.Path(path_type=Path), default=Path("data/movies_sample.csv"), show_default=True
)
@click.option(
    "--rules",
    type=click.Path(path_type=Path),
    default=Path("moviestream/rules/movies.dqdl"),
    show_default=True,
)
@click.option("--timeout", type=float, default=300.0, show_default=True)
def demo_cmd(data: Path, rules: Path, timeout: float) -> None:
    """Run the pipeline end to end on DATA with RULES (the stack must be up)."""
    from moviestream.devstack.demo import run_demo

    sys.exit(run_demo(StackConfig.from_env(), data, rules, timeout))
