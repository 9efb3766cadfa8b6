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
NOT_TERRAFORM = {
    "aws_glue_data_quality_ruleset", "bad_records", "ingest_date", "raw_movies", "source_hash",
    # the first-five-minutes checks' log line, its keys, the function it checks and the view they
    # query: held to the code by test_the_first_five_minutes_checks_name_only_what_exists
    "first_batch_schema", "payload_column", "as_expected", "source_from_glue_frame", "pipeline_health_batches",
}  # fmt: skip


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


# --- the teardown, the cited steps, the first five minutes (issue 29) -------------------------

# Options of the AWS CLI itself (output, filtering, pagination), not of an operation.
AWS_CLI_GLOBAL = {"--query", "--output", "--max-items", "--starting-token", "--page-size", "--region"}
README = DOCS["terraform/README.md"]


def _steps() -> dict[int, str]:
    """The walk-through's numbered steps: number -> its text up to the next step."""
    walkthrough = README[README.index("## Deploying to an AWS account") : README.index("A direct connection")]
    parts = re.split(r"^(\d+)\. ", walkthrough, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}


def _section(title: str) -> str:
    start = README.index(title)
    return README[start : README.index("\n## ", start + 1)]


def _aws_commands(text: str) -> list[tuple[str, str, set[str]]]:
    """(service, command, --flags) of every `aws SERVICE COMMAND ...` in the text, a command
    written over several lines joined first."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for match in re.finditer(r"\baws ([a-z0-9-]+) ([a-z0-9-]+)([^\n]*)", joined):
        service, command, rest = match.groups()
        rest = re.sub(r"'[^']*'|\"[^\"]*\"|\$\([^)]*\)", "X", rest)
        found.append((service, command, set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest))))
    return found


def _check_against_botocore(commands: list[tuple[str, str, set[str]]]) -> None:
    """Each operation exists in botocore's model of the service, and each flag is one of its
    parameters (kebab-case of the member name) or an option of the CLI itself."""
    import botocore.session

    session = botocore.session.get_session()
    custom = {("s3", "cp"): {"--recursive"}}  # the s3 commands are the CLI's own
    for service, command, flags in commands:
        if (service, command) in custom or service == "s3":
            assert flags <= custom.get((service, command), set()) | AWS_CLI_GLOBAL, (service, command, flags)
            continue
        model = session.get_service_model(service)
        by_cli = {re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower(): name for name in model.operation_names}
        assert command in by_cli, (service, command)
        members = model.operation_model(by_cli[command]).input_shape.members
        params = {"--" + re.sub(r"(?<!^)(?=[A-Z])", "-", m).lower() for m in members}
        assert flags <= params | AWS_CLI_GLOBAL, (service, command, flags - params - AWS_CLI_GLOBAL)


def test_the_teardown_stops_the_streaming_run_and_waits_before_destroy():
    steps = _steps()
    teardown = steps[max(steps)]
    assert teardown.startswith("**Tear it down.**"), teardown[:40]
    stop = teardown.index("aws glue batch-stop-job-run")
    wait = teardown.index("while aws glue get-job-runs")
    destroy = teardown.index("terraform -chdir=terraform destroy")
    assert stop < wait < destroy  # stopped, and waited for, before anything is destroyed
    assert "JobRunState==`STOPPING`" in teardown  # a stopping run still holds its interfaces
    assert "output -raw streaming_job_name" in teardown
    _check_against_botocore(_aws_commands(teardown))
    # The operator the walk-through sets up (step 3) may run these calls on the streaming job.
    with (TERRAFORM / "main.tf").open() as fh:
        blocks = hcl2.load(fh)["data"]
    operator = next(
        b['"aws_iam_policy_document"']['"operator"']
        for b in blocks
        if '"aws_iam_policy_document"' in b and '"operator"' in b['"aws_iam_policy_document"']
    )
    jobs = next(s for s in operator["statement"] if s["sid"].strip('"') == "StartTheJobs")
    assert {"glue:GetJobRuns", "glue:BatchStopJobRun"} <= {a.strip('"') for a in jobs["actions"]}


def test_every_step_the_docs_cite_is_the_step_they_mean():
    """ "terraform/README.md, step N" anywhere in the docs or the code names a step that exists;
    the ones about tearing down name the teardown step."""
    steps = _steps()
    cited = []
    for path in [
        *ROOT.glob("*.md"),
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("terraform/**/*.tf"),
        *ROOT.glob("moviestream/**/*.py"),
    ]:
        for match in re.finditer(r"terraform/README\.md, step (\d+)", path.read_text()):
            context = path.read_text()[max(0, match.start() - 120) : match.end() + 80].lower()
            cited.append((path.name, int(match.group(1)), context))
    assert any(name == "COSTS.md" for name, _, _ in cited)
    for name, number, context in cited:
        assert number in steps, (name, number)
        if "destroy" in context or "tear" in context:
            assert steps[number].startswith("**Tear it down.**"), (name, number)


def test_the_first_five_minutes_checks_name_only_what_exists():
    from moviestream.cli.warehouse import cli as warehouse_cli
    from moviestream.glue import streaming_job
    from moviestream.warehouse.catalog import VIEWS_BY_NAME

    section = _section("## First five minutes")
    commands = _aws_commands(section)
    assert {(s, c) for s, c, _ in commands} == {
        ("s3", "cp"),
        ("glue", "get-job-runs"),
        ("logs", "filter-log-events"),
    }
    _check_against_botocore(commands)
    joined = re.sub(r"\\\n\s*", " ", section)
    (query,) = re.findall(r"moviestream warehouse query ([a-z_]+)([^\n]*)", joined)
    assert query[0] in VIEWS_BY_NAME
    options = {o for p in warehouse_cli.commands["query"].params for o in getattr(p, "opts", [])}
    assert set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", re.sub(r"\$\([^)]*\)", "X", query[1]))) <= options
    assert "-var trust_source_account=false" in section and "trust_source_account" in root_names("variable")
    # The log line and the code the second check points at.
    source = Path(streaming_job.__file__).read_text()
    assert '"first_batch_schema"' in source and "def source_from_glue_frame(" in source
    shape_keys = set(re.findall(r'"([a-z_]+)":', source[source.index("def frame_shape(") :]))
    assert {"payload_column", "as_expected"} <= shape_keys
    for word in ("first_batch_schema", "payload_column", "as_expected", "source_from_glue_frame"):
        assert f"`{word}`" in section or f'"{word}"' in section, word
