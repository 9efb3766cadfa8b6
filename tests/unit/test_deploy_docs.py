"""terraform/README.md walks a first-time deployer from an empty account to querying
movies.top_rated, and docs/COSTS.md names the knobs that change the bill: every Terraform
output, variable, tfvars file, make target and command-line flag they name must exist, so a
rename on one side fails here instead of in someone's first deployment."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import hcl2
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).parents[2]
TERRAFORM = ROOT / "terraform"
DOCS = {name: (ROOT / name).read_text() for name in ("terraform/README.md", "docs/COSTS.md")}
# Backticked snake_case words in the docs that are neither a root variable nor an output.
NOT_TERRAFORM = {"aws_glue_data_quality_ruleset", "bad_records", "ingest_date", "raw_movies", "source_hash"}


@cache
def root_names(kind: str) -> set[str]:
    file = {"variable": "variables.tf", "output": "outputs.tf"}[kind]
    with (TERRAFORM / file).open() as fh:
        return {name.strip('"') for block in hcl2.load(fh)[kind] for name in block}


@cache
def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("doc", DOCS)
def test_every_output_the_docs_read_exists(doc):
    named = set(re.findall(r"output -raw ([a-z_]+)", DOCS[doc]))
    named |= set(re.findall(r"the `([a-z_]+)` output", DOCS[doc]))
    assert named - root_names("output") == set()
    if doc == "terraform/README.md":
        assert {
            "warehouse_workgroup",
            "warehouse_admin_secret_arn",
            "glue_jobs_role_name",
            "stream_name",
        } <= named


@pytest.mark.parametrize("doc", DOCS)
def test_every_variable_and_tfvars_file_the_docs_set_exists(doc):
    text = DOCS[doc]
    assert set(re.findall(r"-var '?([a-z_]+)=", text)) - root_names("variable") == set()
    for tfvars in re.findall(r"-var-file=(\S+\.tfvars)", text):
        assert (TERRAFORM / tfvars).is_file(), tfvars
    words = set(re.findall(r"`([a-z][a-z0-9_]*_[a-z0-9_]+)`", text))
    assert words - root_names("variable") - root_names("output") - NOT_TERRAFORM == set()


@pytest.mark.parametrize("doc", DOCS)
def test_every_make_target_the_docs_name_exists(doc):
    assert set(re.findall(r"`make ([a-z][a-z0-9-]*)", DOCS[doc])) - make_targets() == set()


def test_the_walkthrough_reaches_top_rated_with_flags_the_tools_take():
    from moviestream.cli.warehouse import cli as redshift_cli

    text = DOCS["terraform/README.md"]
    walkthrough = text[text.index("## Deploying to an AWS account") : text.index("## On LocalStack")]
    assert "query top_rated" in walkthrough and "apply --data-api" in walkthrough
    # Each command line as one logical line, the $(terraform ...) substitutions taken out.
    lines = re.sub(r"\$\([^)]*\)", "X", walkthrough.replace("\\\n", " ")).splitlines()
    seen = set()
    for command in ("apply", "query"):
        options = {o for p in redshift_cli.commands[command].params for o in getattr(p, "opts", [])}
        for line in (ln for ln in lines if f"moviestream warehouse {command}" in ln):
            used = line.split(f"moviestream warehouse {command}", 1)[1]
            flags = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", used))
            assert flags <= options, (command, flags - options)
            seen |= flags
    assert {"--data-api", "--workgroup", "--database", "--secret-arn", "--grant-role"} <= seen
    runner = CliRunner()
    assert runner.invoke(redshift_cli, ["query", "--help"]).exit_code == 0
    from moviestream.cli.producer import replay_cmd

    replay = {
        o for p in replay_cmd.params for o in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]
    }
    assert {"--no-aggregate", "--stream-name"} <= replay
