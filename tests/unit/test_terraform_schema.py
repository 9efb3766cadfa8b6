"""terraform/ against the AWS provider's own schema (hashicorp/aws 6.25.0, from the pinned
@cdktf/provider-aws .jsii; scripts/terraform_schema.py), and proof that the check catches what
`terraform validate` would: invented arguments, misspelt nested ones, missing required ones."""

from __future__ import annotations

import importlib.util
import re
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@cache
def tool():
    spec = importlib.util.spec_from_file_location(
        "terraform_schema", ROOT / "scripts" / "terraform_schema.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@cache
def schema():
    cache_file = tool().CACHE
    if not cache_file.is_file():
        pytest.fail(f"{cache_file} is missing: `make tf-schema` installs and extracts it (make test does)")
    return tool().Schema.load(cache_file)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    folder = tmp_path / "tf"
    folder.mkdir(exist_ok=True)
    (folder / "main.tf").write_text(text)
    return tool().check_tree(folder, schema())


GLUE_JOB = """
resource "aws_glue_job" "streaming" {
  name     = "x"
  role_arn = aws_iam_role.glue.arn
  %s
  command {
    name            = "gluestreaming"
    script_location = "s3://b/k.py"
  }
}
"""


def test_the_schema_is_the_pinned_provider_release_and_whole():
    data = schema().data
    assert data["version"] == "6.25.0"
    stats = data["stats"]
    # Every property of every resource, data source and nested struct got its Terraform name.
    assert stats["properties"] == stats["properties_mapped"] > 30_000
    assert stats["resources"] > 1_500 and stats["data_sources"] > 600


def test_versions_pin_the_schemas_release_line():
    for path in [ROOT / "terraform" / "versions.tf", *(ROOT / "terraform" / "modules").glob("*/versions.tf")]:
        text = path.read_text()
        if "required_providers" not in text:
            continue  # modules/names: expressions only
        assert re.search(r'source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*"~> 6\.25"', text), path


def test_terraform_folder_passes():
    problems = tool().check_tree(ROOT / "terraform", schema())
    assert problems == []


def test_every_resource_type_in_terraform_is_known():
    """The check above is not vacuous: it saw the project's resources."""
    text = "\n".join(p.read_text() for p in (ROOT / "terraform").rglob("*.tf"))
    types = set(re.findall(r'^resource "(\w+)"', text, re.M))
    assert len(types) > 20
    assert types <= set(schema().data["resources"])


def test_a_correct_block_passes(tmp_path):
    assert problems_of(tmp_path, GLUE_JOB % "max_retries = 1") == []


def test_an_invented_argument_is_named(tmp_path):
    problems = problems_of(tmp_path, GLUE_JOB % "restart_on_fridays = true")
    assert problems == ["tf/main.tf: resource aws_glue_job.streaming: unknown argument 'restart_on_fridays'"]


def test_a_misspelt_nested_argument_is_named(tmp_path):
    text = GLUE_JOB.replace("script_location", "script_locaton") % ""
    problems = problems_of(tmp_path, text)
    assert (
        "tf/main.tf: resource aws_glue_job.streaming.command: unknown argument 'script_locaton'" in problems
    )
    assert (
        "tf/main.tf: resource aws_glue_job.streaming.command: missing required argument 'script_location'"
        in problems
    )


def test_a_misspelling_deep_inside_nested_blocks_is_found(tmp_path):
    text = """
resource "aws_s3_bucket_lifecycle_configuration" "x" {
  bucket = "b"
  rule {
    id     = "r"
    status = "Enabled"
    filter {
      prefx = "staging/"
    }
    expiration {
      days = 7
    }
  }
}
"""
    assert problems_of(tmp_path, text) == [
        "tf/main.tf: resource aws_s3_bucket_lifecycle_configuration.x.rule.filter: unknown argument 'prefx'"
    ]


def test_a_missing_required_argument_is_named(tmp_path):
    text = GLUE_JOB.replace("role_arn = aws_iam_role.glue.arn", "") % ""
    assert problems_of(tmp_path, text) == [
        "tf/main.tf: resource aws_glue_job.streaming: missing required argument 'role_arn'"
    ]


def test_a_missing_required_block_is_named(tmp_path):
    text = 'resource "aws_glue_job" "j" {\n  name = "x"\n  role_arn = "r"\n}\n'
    assert problems_of(tmp_path, text) == [
        "tf/main.tf: resource aws_glue_job.j: missing required argument 'command'"
    ]


def test_a_dynamic_block_provides_its_block_and_is_checked(tmp_path):
    text = """
resource "aws_glue_job" "j" {
  name     = "x"
  role_arn = "r"
  dynamic "command" {
    for_each = ["a"]
    content {
      script_location = "s3://b/k.py"
      flavour         = "strawberry"
    }
  }
  dynamic "no_such_block" {
    for_each = []
    content {}
  }
}
"""
    assert problems_of(tmp_path, text) == [
        "tf/main.tf: resource aws_glue_job.j.command: unknown argument 'flavour'",
        "tf/main.tf: resource aws_glue_job.j: unknown nested block 'no_such_block' (dynamic)",
    ]


def test_unknown_types_and_meta_arguments(tmp_path):
    text = """
resource "aws_glue_jobb" "j" {
  name = "x"
}
data "aws_caller_identity" "me" {
  count = 1
}
data "aws_iam_policy_document" "p" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
    conditon {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["true"]
    }
  }
}
resource "aws_kinesis_stream" "s" {
  name       = "s"
  depends_on = [aws_glue_job.j]
  lifecycle {
    prevent_destroy = true
  }
}
"""
    assert problems_of(tmp_path, text) == [
        "tf/main.tf: resource aws_glue_jobb.j: unknown resource type 'aws_glue_jobb' in hashicorp/aws 6.25.0",
        "tf/main.tf: data aws_iam_policy_document.p.statement: unknown argument 'conditon'",
    ]


@pytest.mark.tools
def test_the_command_line_exits_non_zero_with_one_line_per_problem(tmp_path):
    import subprocess

    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "main.tf").write_text(GLUE_JOB % "invented = 1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "terraform_schema.py"), "check", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout.strip() == "bad/main.tf: resource aws_glue_job.streaming: unknown argument 'invented'"
