"""Static checks of terraform/ (the AWS provider cannot be downloaded on these machines, so no
plan can be made here): formatting, module structure, every reference resolves, module calls
pass exactly what the modules declare, variables are typed and validated with messages, and the
default names are the local stack's (moviestream/core/resources.json)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import hcl2
import pytest

from tests.helpers import terraform_outputs, terraform_value

ROOT = Path(__file__).parents[2]
TERRAFORM = ROOT / "terraform"
MODULE_DIRS = [TERRAFORM, *sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())]
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
NAMES = json.loads((ROOT / "moviestream" / "core" / "resources.json").read_text())


def unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


@cache
def parsed(module: Path) -> dict[str, list]:
    """Every block of a module's .tf files, merged by block type (python-hcl2's lists)."""
    merged: dict[str, list] = {}
    for path in sorted(module.glob("*.tf")):
        with path.open() as fh:
            for kind, blocks in hcl2.load(fh).items():
                merged.setdefault(kind, []).extend(blocks)
    return merged


def named(blocks: list[dict]) -> dict[str, dict]:
    """{name: body} of single-label blocks (variable, output, module)."""
    return {unquote(k): v for block in blocks for k, v in block.items()}


def bodies(blocks: list[dict]) -> dict[str, dict]:
    """{"type.name": body} of two-label blocks (resource, data)."""
    return {
        f"{unquote(t)}.{unquote(n)}": body
        for block in blocks
        for t, by_name in block.items()
        for n, body in by_name.items()
    }


def typed_named(blocks: list[dict]) -> set[str]:
    return set(bodies(blocks))


def locals_of(module: Path) -> dict[str, object]:
    """A module's locals, merged over its locals blocks."""
    return {
        k: v for block in parsed(module).get("locals", []) for k, v in block.items() if not k.startswith("__")
    }


def expressions(value: object) -> list[str]:
    """Every string in a parsed body (comments left out)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if not k.startswith("__") for s in expressions(v)]
    if isinstance(value, list):
        return [s for v in value for s in expressions(v)]
    return []


def references(module: Path, prefix: str) -> set[str]:
    pattern = re.compile(rf"(?<![.\w]){prefix}\.([A-Za-z_][A-Za-z0-9_]*)")
    return {m for text in expressions(parsed(module)) for m in pattern.findall(text)}


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_has_its_files(module):
    assert [f for f in MODULE_FILES if not (module / f).exists()] == []


@pytest.mark.tools
def test_terraform_fmt_check_passes():
    terraform = shutil.which("terraform")
    assert terraform, "terraform is not on PATH (ENVIRONMENT.md: Terraform 1.11 is on these machines)"
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_reference_resolves(module):
    blocks = parsed(module)
    variables = set(named(blocks.get("variable", [])))
    locals_ = set(locals_of(module))
    modules = set(named(blocks.get("module", [])))
    resources = typed_named(blocks.get("resource", []))
    data = typed_named(blocks.get("data", []))
    assert references(module, "var") - variables == set()
    assert references(module, "local") - locals_ == set()
    assert references(module, "module") - modules == set()
    assert references(module, "data") - {d.split(".")[0] for d in data} == set()
    resource_refs = {
        f"{t}.{n}"
        for text in expressions(blocks)
        for t, n in re.findall(r"(?<![.\w])(aws_[a-z0-9_]+)\.([a-z_][a-z0-9_]*)", text)
    }
    assert resource_refs - resources == set()
    assert variables - references(module, "var") == set(), "declared but never used"


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: str(p.relative_to(ROOT)))
def test_variables_are_typed_described_and_validated_with_messages(module):
    for name, body in named(parsed(module).get("variable", [])).items():
        assert "type" in body and unquote(body.get("description", "")), name
        for rule in body.get("validation", []):
            message = unquote(rule["error_message"])
            assert message.endswith(".") and len(message) > 20, (name, message)


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: str(p.relative_to(ROOT)))
def test_outputs_are_described(module):
    for name, body in named(parsed(module).get("output", [])).items():
        assert unquote(body.get("description", "")), name


def test_module_calls_pass_exactly_the_declared_variables():
    for name, call in named(parsed(TERRAFORM).get("module", [])).items():
        source = TERRAFORM / unquote(call["source"])
        declared = named(parsed(source.resolve()).get("variable", []))
        required = {v for v, body in declared.items() if "default" not in body}
        passed = {
            k for k in call if not k.startswith("__") and k not in ("source", "depends_on", "providers")
        }
        assert passed - set(declared) == set(), f"module {name} passes undeclared variables"
        assert required - passed == set(), f"module {name} misses required variables"


def test_default_names_are_the_local_stacks():
    """Name variables default to null, and the locals take them from resources.json."""
    blocks = parsed(TERRAFORM)
    variables = named(blocks["variable"])
    locals_ = locals_of(TERRAFORM)
    names_call = named(blocks["module"])["names"]
    assert "moviestream/core/resources.json" in names_call["resource_names_json"]
    assert names_call["name_suffix"] == "${var.name_suffix}"
    assert variables["name_suffix"]["default"] == '""'  # no suffix: exactly resources.json's names
    assert locals_["names"] == "${module.names.names}"
    for variable, key in (
        ("stream_name", "stream_name"),
        ("bucket_name", "bucket_name"),
        ("shard_count", "stream_shards"),
    ):
        assert variables[variable]["default"] is None
        assert key in NAMES
        assert locals_[variable].startswith(f"${{coalesce(var.{variable}, ")
        assert f"local.names.{key}" in locals_[variable]
    kinesis = named(blocks["module"])["kinesis"]
    storage = named(blocks["module"])["storage"]
    assert kinesis["name"] == "${local.stream_name}" and storage["bucket_name"] == "${local.bucket_name}"
    assert storage["bad_records_prefix"] == "${local.names.bad_records_prefix}"
    assert storage["rule_outcomes_prefix"] == "${local.names.rule_outcomes_prefix}"


def test_data_at_rest_is_encrypted_with_the_pipelines_rotating_key():
    root = parsed(TERRAFORM)
    key = bodies(root["resource"])["aws_kms_key.pipeline"]
    assert key["enable_key_rotation"] is True
    stream = bodies(parsed(TERRAFORM / "modules" / "kinesis")["resource"])["aws_kinesis_stream.this"]
    assert unquote(stream["encryption_type"]) == "KMS" and stream["kms_key_id"] == "${var.kms_key_arn}"
    for module in ("kinesis", "storage"):
        assert named(root["module"])[module]["kms_key_arn"] == "${aws_kms_key.pipeline.arn}"


def test_the_bucket_is_private_tls_only_versioned_and_expires_what_it_should():
    storage = parsed(TERRAFORM / "modules" / "storage")
    resources = bodies(storage["resource"])
    block = resources["aws_s3_bucket_public_access_block.data"]
    assert all(
        block[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    sse = resources["aws_s3_bucket_server_side_encryption_configuration.data"]["rule"][0]
    assert unquote(sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"]) == "aws:kms"
    versioning = resources["aws_s3_bucket_versioning.data"]["versioning_configuration"][0]
    assert unquote(versioning["status"]) == "Enabled"
    rules = {unquote(r["id"]): r for r in resources["aws_s3_bucket_lifecycle_configuration.data"]["rule"]}
    assert rules["expire-bad-records"]["filter"][0]["prefix"] == '"${var.bad_records_prefix}/"'
    assert rules["expire-rule-outcomes"]["filter"][0]["prefix"] == '"${var.rule_outcomes_prefix}/"'
    statement = bodies(storage["data"])["aws_iam_policy_document.tls_only"]["statement"][0]
    assert unquote(statement["effect"]) == "Deny" and statement["condition"][0]["values"] == ['"false"']
    assert resources["aws_s3_bucket_notification.data"]["eventbridge"] is True


def test_every_event_pattern_file_fills_from_the_resource_names():
    from moviestream.core.event_patterns import ALERT_PATTERNS, BACKFILL_PATTERN, PATTERN_DIR, pattern

    files = {p.stem for p in PATTERN_DIR.glob("*.json")}
    assert files == {*ALERT_PATTERNS, BACKFILL_PATTERN}
    for name in files:
        assert "${" not in json.dumps(pattern(name)), name
    with pytest.raises(ValueError, match="not in moviestream/core/resources.json"):
        pattern("pipeline_breach", {})


def policy_documents() -> dict[str, dict]:
    """Every aws_iam_policy_document in terraform/, by "module/name"."""
    return {
        f"{module.name}/{key.split('.', 1)[1]}": body
        for module in MODULE_DIRS
        for key, body in bodies(parsed(module).get("data", [])).items()
        if key.startswith("aws_iam_policy_document.")
    }


def test_no_statement_allows_every_action_on_every_resource():
    documents = policy_documents()
    assert len(documents) >= 6
    for name, document in documents.items():
        for statement in document["statement"]:
            if unquote(statement.get("effect", "Allow")) == "Deny":
                continue  # a Deny of s3:* (the TLS-only policy) grants nothing
            actions = [unquote(a) for a in statement.get("actions", [])]
            resources = [unquote(r) for r in statement.get("resources", [])]
            assert not ("*" in actions and "*" in resources), name
            if name != "terraform/pipeline_key":  # the key policy's admin statement is the documented default
                assert not any(a.endswith(":*") for a in actions), (name, actions)


def test_roles_can_be_assumed_only_by_their_service_from_this_account():
    for name in ("iam/states_assume", "iam/events_assume"):
        (statement,) = policy_documents()[name]["statement"]
        assert [unquote(a) for a in statement["actions"]] == ["sts:AssumeRole"]
        assert statement["principals"][0]["type"] == '"Service"'
        assert unquote(statement["condition"][0]["variable"]) == "aws:SourceAccount"


def test_the_role_policies_scope_their_resources_to_this_deployment():
    states = policy_documents()["iam/backfill_states"]["statement"]
    by_sid = {unquote(s["sid"]): s for s in states}
    assert by_sid["RunTheBackfillJobAndWaitForIt"]["resources"] == ["${var.backfill_job_arn}"]
    assert by_sid["ReportToTheAlertTopic"]["resources"] == ["${var.alert_topic_arn}"]
    trigger = policy_documents()["iam/backfill_trigger"]["statement"]
    assert trigger[0]["resources"] == ["${var.state_machine_arn}"]


def test_templatefile_targets_exist_and_get_their_placeholders():
    alerts = TERRAFORM / "modules" / "alerts"
    text = "\n".join(p.read_text() for p in alerts.glob("*.tf"))
    locals_ = locals_of(alerts)
    patterns_dir = (alerts / "../../../moviestream/core/eventbridge").resolve()
    assert unquote(locals_["patterns_dir"]) == "${path.module}/../../../moviestream/core/eventbridge"
    for pattern_file in [*locals_["alert_patterns"].values(), "raw_object_created"]:
        assert (patterns_dir / f"{unquote(pattern_file)}.json").exists(), pattern_file
    assert 'templatefile("${path.module}/../../../moviestream/backfill/aws/state_machine.asl.json"' in text
    from moviestream.backfill.state_machine import PLACEHOLDERS

    machine = bodies(parsed(alerts)["resource"])["aws_sfn_state_machine.backfill"]
    for placeholder in PLACEHOLDERS:
        assert f"{placeholder} = " in machine["definition"], placeholder
    # every placeholder of every pattern file is a key the root passes in pattern_values
    root_locals = locals_of(TERRAFORM)
    assert (
        "local.names" in root_locals["pattern_values"]
        and "bucket_name = local.bucket_name" in root_locals["pattern_values"]
    )
    for path in patterns_dir.glob("*.json"):
        for placeholder in re.findall(r"\$\{(\w+)\}", path.read_text()):
            assert placeholder in NAMES, (path.name, placeholder)


def glue_jobs() -> dict[str, dict]:
    return {
        key.split(".", 1)[1]: body
        for key, body in bodies(parsed(TERRAFORM / "modules" / "glue_jobs")["resource"]).items()
        if key.startswith("aws_glue_job.")
    }


def test_the_glue_jobs_are_glue_6_with_explicit_capacity_and_timeouts():
    jobs = glue_jobs()
    assert set(jobs) == {"streaming", "backfill"}
    assert {name: unquote(job["command"][0]["name"]) for name, job in jobs.items()} == {
        "streaming": "gluestreaming",
        "backfill": "glueetl",
    }
    for name, job in jobs.items():
        assert unquote(job["glue_version"]) == "6.0", name
        assert all(
            job.get(k) for k in ("worker_type", "number_of_workers", "timeout", "security_configuration")
        ), name
        assert "aws_s3_object.code" in job["command"][0]["script_location"], name


def test_the_glue_jobs_get_the_code_the_pins_and_the_pipelines_arguments():
    glue = parsed(TERRAFORM / "modules" / "glue_jobs")
    locals_ = locals_of(TERRAFORM / "modules" / "glue_jobs")
    common = {unquote(k): v for k, v in locals_["common_arguments"].items() if not k.startswith("__")}
    assert 'aws_s3_object.code["core"]' in common["--extra-py-files"]
    assert common["--additional-python-modules"] == "${local.additional_python_modules}"
    assert "additional_python_modules.txt" in locals_["additional_python_modules"]
    # what both entries read (glue_job.REQUIRED_ARGUMENTS, minus Glue's own and the per-run input)
    from moviestream.glue.backfill_job import REQUIRED_ARGUMENTS as BACKFILL
    from moviestream.glue.streaming_job import REQUIRED_ARGUMENTS as STREAMING

    jobs = glue_jobs()

    def arguments(job: str) -> set[str]:
        merged = jobs[job]["default_arguments"]  # merge(local.common_arguments, {...})
        assert merged.startswith("${merge(local.common_arguments,")
        return set(common) | set(re.findall(r'"(--[a-z_]+)"', merged))

    assert {f"--{a}" for a in STREAMING if a != "JOB_NAME"} <= arguments("streaming")
    assert {f"--{a}" for a in BACKFILL if a not in ("JOB_NAME", "input_uri")} <= arguments("backfill")
    # every uploaded file tracks its source's hash, so a change is a new upload and a redeploy
    objects = {k: v for k, v in bodies(glue["resource"]).items() if k.startswith("aws_s3_object.")}
    assert set(objects) == {"aws_s3_object.code", "aws_s3_object.ruleset", "aws_s3_object.reference"}
    for body in objects.values():
        assert (
            body["source_hash"].startswith("${filemd5(")
            and unquote(body["server_side_encryption"]) == "aws:kms"
        )
    ruleset = bodies(glue["resource"])["aws_glue_data_quality_ruleset.movies"]
    assert ruleset["ruleset"] == "${file(var.ruleset_file)}"
    # reference files go under the code prefix, which the job role reads; the shipped one exists
    assert unquote(objects["aws_s3_object.reference"]["key"]).startswith("${local.code_prefix}/references/")
    assert "aws_s3_object.reference" in locals_["references"] and "warehouse:" in locals_["references"]
    assert (ROOT / "data" / "references" / "certificates.csv").is_file()


def test_make_package_builds_the_artifacts_terraform_uploads(tmp_path):
    import importlib.util
    import zipfile

    spec = importlib.util.spec_from_file_location("package_glue", ROOT / "scripts" / "package_glue.py")
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    first = package.build(tmp_path / "a")
    second = package.build(tmp_path / "b")
    assert first["core"].read_bytes() == second["core"].read_bytes()  # deterministic: hash follows source
    names = zipfile.ZipFile(first["core"]).namelist()
    for module in (
        "moviestream/glue/streaming_job.py",
        "moviestream/glue/backfill_job.py",
        "moviestream/core/resources.json",
        "moviestream/warehouse/sql/merge_movies.sql",
        "moviestream/core/csv_source.py",
    ):
        assert module in names, module
    assert not any(n.startswith(("tests/", "bench/")) or "__pycache__" in n for n in names)
    # Exactly the sub-packages the Glue entries import, found from the imports themselves.
    shipped = {n.split("/")[1] for n in names if n.count("/") >= 2}
    assert shipped == glue_import_closure(), shipped
    pins = first["modules"].read_text().strip().split(",")
    assert "orjson==3.11.5" in pins and all("==" in p for p in pins)
    assert not any(
        p.startswith(("pyspark", "pandas", "pyarrow", "boto3", "botocore", "numpy", "setuptools"))
        for p in pins
    )
    # Transitive dependencies are pinned too, so pip on Glue resolves nothing by itself.
    names = {p.split("==")[0] for p in pins}
    assert {"pydantic-core", "scramp", "asn1crypto", "annotated-types"} <= names
    locked = dict(
        line.split(" ")[0].split("==")
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith(" ")
    )
    assert all(locked.get(p.split("==")[0]) == p.split("==")[1] for p in pins)
    assert "from moviestream.glue.backfill_job import main" in first["backfill_job.py"].read_text()
    locals_ = locals_of(TERRAFORM / "modules" / "glue_jobs")
    for key in ("core", "streaming", "backfill"):
        assert Path(unquote(locals_["artifacts"][key]).split("/")[-1]).name in {
            p.name for p in first.values()
        }


TOOLS = ROOT / ".local" / "terraform-checks-venv" / "bin"
CHECKOV = TOOLS / "checkov"


@pytest.mark.tools
def test_checkov_finds_no_failed_check_and_every_skip_says_why():
    assert CHECKOV.exists(), "checkov is not installed: run `make test` or `make tf-check`"
    result = subprocess.run(
        [str(CHECKOV), "-d", str(TERRAFORM), "--framework", "terraform", "--quiet", "--compact",
         "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])]
    assert summary["failed"] == 0 and summary["parsing_errors"] == 0, failed
    assert summary["passed"] >= 100 and summary["resource_count"] >= 30
    skips = [
        m
        for path in TERRAFORM.rglob("*.tf")
        for m in re.findall(r"#checkov:skip=([A-Z0-9_]+)(.*)", path.read_text())
    ]
    assert len(skips) == summary["skipped"]
    for check, reason in skips:
        assert reason.startswith(":") and len(reason) > 30, f"{check} is skipped without a reason"


@pytest.mark.tools
def test_terraform_compliance_features_pass_against_a_plan(tmp_path):
    """Run only where a plan can be made and MOVIESTREAM_TERRAFORM_PLAN=1 says so (the provider
    downloads and AWS credentials work); otherwise skipped with the reason, so it is never
    counted as passed here."""
    terraform = shutil.which("terraform")
    assert terraform and (TOOLS / "terraform-compliance").exists()
    features = TERRAFORM / "compliance"
    assert sorted(p.name for p in features.glob("*.feature")) == [
        "encryption.feature", "glue.feature", "iam.feature", "storage.feature"
    ]  # fmt: skip
    env = {**os.environ, "TF_DATA_DIR": str(tmp_path / "tf-data"), "TF_IN_AUTOMATION": "1"}

    def step(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [terraform, f"-chdir={TERRAFORM}", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )

    def first_error(result: subprocess.CompletedProcess) -> str:
        lines = [line.strip(" │╷╵") for line in (result.stderr + result.stdout).splitlines()]
        return next(
            (line for line in lines if "Error" in line or "error" in line), lines[-1] if lines else ""
        )

    if os.environ.get("MOVIESTREAM_TERRAFORM_PLAN") != "1":
        # terraform init would download the AWS provider, which these machines must not do.
        pytest.skip(
            "terraform-compliance not run: no plan is made here (the AWS provider is not downloaded);"
            " set MOVIESTREAM_TERRAFORM_PLAN=1 where terraform init and plan can run"
        )
    init = step("init", "-backend=false", "-input=false", "-no-color", timeout=120)
    # Opted in, a plan that cannot be made is a failure, never a skip.
    assert init.returncode == 0, f"terraform init failed: {first_error(init)}"
    plan_file = tmp_path / "plan.out"
    plan = step(
        "plan", "-input=false", "-lock=false", "-no-color", "-var-file=envs/dev.tfvars", f"-out={plan_file}"
    )
    assert plan.returncode == 0, f"terraform plan failed: {first_error(plan)}"
    shown = step("show", "-json", "-no-color", str(plan_file))
    plan_json = tmp_path / "plan.json"
    plan_json.write_text(shown.stdout)
    result = subprocess.run(
        [str(TOOLS / "terraform-compliance"), "-f", str(features), "-p", str(plan_json), "-S"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_localstack_override_has_an_endpoint_for_every_service_the_stack_uses():
    with (TERRAFORM / "localstack" / "localstack_providers_override.tf").open() as fh:
        (provider,) = hcl2.load(fh)["provider"]
    aws = provider['"aws"'] if '"aws"' in provider else provider["aws"]
    endpoints = {k: unquote(v) for k, v in aws["endpoints"][0].items() if not k.startswith("__")}
    assert all(":4566" in url for url in endpoints.values())
    prefixes = {
        "aws_kinesis": "kinesis", "aws_s3": "s3", "aws_kms": "kms", "aws_iam": "iam", "aws_sns": "sns",
        "aws_cloudwatch_event": "events", "aws_sfn": "sfn", "aws_glue": "glue", "aws_cloudwatch_log": "logs",
        "aws_cloudwatch_metric": "cloudwatch", "aws_secretsmanager": "secretsmanager",
        "aws_vpc": "ec2", "aws_subnet": "ec2", "aws_route": "ec2", "aws_eip": "ec2", "aws_nat_gateway": "ec2",
        "aws_internet_gateway": "ec2", "aws_security_group": "ec2", "aws_default_security_group": "ec2",
        "aws_ec2": "ec2", "aws_redshiftserverless": "redshiftserverless",
    }  # fmt: skip
    used = {
        service
        for module in MODULE_DIRS
        for kind in ("resource", "data")
        for key in bodies(parsed(module).get(kind, []))
        for prefix, service in prefixes.items()
        if key.split(".")[0].startswith(prefix)
    }
    assert used - set(endpoints) == set()
    assert "sts" in endpoints  # aws_caller_identity
    assert not (TERRAFORM / "localstack_providers_override.tf").exists(), (
        "never commit the override into terraform/"
    )


def test_the_catalog_tables_match_the_files_the_pipeline_writes():
    from moviestream.backfill.backfill import FILE_FAILURE_FIELDS, REJECT_FIELDS
    from moviestream.core.record import CSV_COLUMNS
    from moviestream.pipeline.read_out import BAD_RECORD_FIELDS, TYPED_FIELDS

    catalog_call = named(parsed(TERRAFORM)["module"])["catalog"]
    assert [unquote(c) for c in catalog_call["csv_columns"]] == list(CSV_COLUMNS)
    catalog = parsed(TERRAFORM / "modules" / "catalog")
    locals_ = locals_of(TERRAFORM / "modules" / "catalog")
    columns = {unquote(k) for k in locals_["bad_record_columns"] if not k.startswith("__")}
    assert columns == {
        "reasons", "failed_rules", "typed", "raw_fields", "payload_base64", *BAD_RECORD_FIELDS, *REJECT_FIELDS,
        *FILE_FAILURE_FIELDS,
    }  # fmt: skip
    typed = re.findall(
        r"(\w+):",
        " ".join(
            locals_["typed_struct"]
            if isinstance(locals_["typed_struct"], list)
            else [locals_["typed_struct"]]
        ),
    )
    assert typed == list(TYPED_FIELDS)
    table = bodies(catalog["resource"])["aws_glue_catalog_table.bad_records"]
    assert unquote(table["partition_keys"][0]["name"]) == "ingest_date"
    parameters = {
        unquote(k): unquote(str(v)) for k, v in table["parameters"].items() if not k.startswith("__")
    }
    assert parameters["projection.enabled"] == "true"
    assert parameters["storage.location.template"].endswith("/ingest_date=$${ingest_date}/")


def test_the_backfill_schedule_sends_what_the_state_machine_reads():
    catalog = parsed(TERRAFORM / "modules" / "catalog")
    target = bodies(catalog["resource"])["aws_cloudwatch_event_target.backfill_schedule"]
    assert "detail = {bucket = {name = var.bucket_name}, object = {key =" in target["input"]
    from moviestream.backfill.state_machine import render

    machine = json.loads(render("job", "arn:aws:sns:us-east-1:000000000000:t"))
    reads = machine["States"]["RunBackfill"]["Parameters"]["Arguments"]["--input_uri.$"]
    assert "$.detail.bucket.name" in reads and "$.detail.object.key" in reads


def test_the_warehouse_is_private_encrypted_and_the_dsn_it_writes_is_one_the_jobs_read():
    from moviestream.warehouse.redshift import RedshiftSettings

    resources = bodies(parsed(TERRAFORM / "modules" / "redshift")["resource"])
    workgroup = resources["aws_redshiftserverless_workgroup.warehouse"]
    assert workgroup["publicly_accessible"] is False and workgroup["enhanced_vpc_routing"] is True
    assert [
        (unquote(p["parameter_key"]), unquote(p["parameter_value"])) for p in workgroup["config_parameter"]
    ] == [("require_ssl", "true")]
    namespace = resources["aws_redshiftserverless_namespace.warehouse"]
    assert namespace["manage_admin_password"] is True and namespace["kms_key_id"] == "${var.kms_key_arn}"
    secret = resources["aws_secretsmanager_secret_version.dsn"]["secret_string"]
    template = re.search(r'format\("([^"]+)"', secret).group(1)
    sample = template % (
        "moviestream.123456789012.us-east-1.redshift-serverless.amazonaws.com", 5439, "moviestream",
        "moviestream", "arn:aws:iam::123456789012:role/moviestream-redshift-copy", "my-bucket", "staging",
    )  # fmt: skip
    settings = RedshiftSettings.from_dsn(sample)
    assert (
        settings.workgroup == "moviestream"
        and settings.password == ""
        and settings.staging_uri.endswith("/staging")
    )
    jobs = glue_jobs()
    assert all(job["connections"] == "${var.connections}" for job in jobs.values())


def test_an_empty_account_gets_the_network_the_jobs_need():
    """No vpc_id: the network module creates the VPC (private subnets, S3 gateway endpoint, a NAT
    for PyPI) and the Kinesis interface endpoint Glue requires for a streaming job in a VPC."""
    root_variables = named(parsed(TERRAFORM).get("variable", []))
    assert root_variables["vpc_id"]["default"] is None
    call = named(parsed(TERRAFORM)["module"])["network"]
    assert call["create_vpc"] == "${var.vpc_id == null}"
    assert '"kinesis-streams"' in root_variables["interface_endpoints"]["default"]
    network = bodies(parsed(TERRAFORM / "modules" / "network")["resource"])
    assert unquote(network["aws_vpc_endpoint.s3"]["vpc_endpoint_type"]) == "Gateway"
    assert {"aws_nat_gateway.this", "aws_route.private_to_nat", "aws_vpc_endpoint.interface"} <= set(network)
    redshift_call = named(parsed(TERRAFORM)["module"])["redshift"]
    assert redshift_call["vpc_id"] == "${module.network.vpc_id}"
    assert redshift_call["subnet_ids"] == "${module.network.subnet_ids}"


def test_the_glue_jobs_role_can_put_the_jobs_in_the_vpc():
    """Glue creates the jobs' network interfaces with the jobs' role (AWSGlueServiceRole's EC2 part)."""
    document = policy_documents()["redshift/glue_network"]
    actions = {unquote(a) for s in document["statement"] for a in s["actions"]}
    assert {
        "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcEndpoints",
        "ec2:DescribeRouteTables", "ec2:DescribeVpcAttribute", "ec2:CreateTags", "glue:GetConnection",
    } <= actions  # fmt: skip
    policy = bodies(parsed(TERRAFORM / "modules" / "redshift")["resource"])[
        "aws_iam_role_policy.glue_network"
    ]
    assert policy["role"] == "${var.glue_role_name}"


def evaluated_names(tmp_path: Path, suffix: str) -> dict[str, str]:
    """modules/names evaluated by Terraform itself (`terraform console`; no provider needed)."""
    work = tmp_path / f"names-{suffix or 'none'}"
    shutil.copytree(TERRAFORM / "modules" / "names", work)
    (work / "terraform.tfvars.json").write_text(
        json.dumps(
            {
                "resource_names_json": (ROOT / "moviestream" / "core" / "resources.json").read_text(),
                "name_suffix": suffix,
            }
        )
    )
    return terraform_value(work, "local.names")


@pytest.mark.tools
def test_without_a_suffix_the_names_are_the_local_stacks(tmp_path):
    names = evaluated_names(tmp_path, "")
    assert names == {k: str(v) for k, v in NAMES.items() if not k.startswith("_")}


@pytest.mark.tools
def test_a_suffix_names_a_second_environment_apart(tmp_path):
    dev, prod = evaluated_names(tmp_path, "dev"), evaluated_names(tmp_path, "prod")
    assert dev["stream_name"] == "moviestream-dev-movies" and prod["stream_name"] == "moviestream-prod-movies"
    assert dev["event_source"] == "moviestream-dev.pipeline"  # their rules match only their own events
    for key, value in ((k, v) for k, v in NAMES.items() if not k.startswith("_")):
        if str(value).startswith(NAMES["project"]):
            assert dev[key] != prod[key] != value, key  # every project name differs per environment
        else:
            assert dev[key] == prod[key] == str(value), key  # prefixes and the schema stay


def test_names_reach_the_glue_jobs_as_arguments():
    """Runtime names come from the job's arguments, not from resources.json inside the zip."""
    from moviestream.glue.streaming_job import OPTIONAL_ARGUMENTS, REQUIRED_ARGUMENTS

    text = (TERRAFORM / "modules" / "glue_jobs" / "main.tf").read_text()
    for name in ("stream_arn", "bucket", "event_source", "warehouse_dsn_secret"):
        assert f'"--{name}"' in text, name
        assert name in REQUIRED_ARGUMENTS or name in OPTIONAL_ARGUMENTS, name
    assert named(parsed(TERRAFORM)["module"])["glue_jobs"]["event_source"] == "${local.names.event_source}"


def test_the_glue_jobs_restart_failed_runs_and_an_alarm_watches_degraded_events():
    glue = parsed(TERRAFORM / "modules" / "glue_jobs")
    jobs = bodies(glue["resource"])
    variables = named(glue["variable"])
    assert jobs["aws_glue_job.streaming"]["max_retries"] == "${var.streaming_max_retries}"
    assert jobs["aws_glue_job.backfill"]["max_retries"] == "${var.backfill_max_retries}"
    assert (
        variables["streaming_max_retries"]["default"] >= 1
        and variables["backfill_max_retries"]["default"] >= 1
    )
    alerts = parsed(TERRAFORM / "modules" / "alerts")
    assert (
        locals_of(TERRAFORM / "modules" / "alerts")["alert_patterns"]["pipeline-degraded"]
        == '"pipeline_degraded"'
    )
    alarm = bodies(alerts["resource"])["aws_cloudwatch_metric_alarm.pipeline_degraded"]
    assert unquote(alarm["metric_name"]) == "MatchedEvents" and unquote(alarm["namespace"]) == "AWS/Events"
    assert "pipeline-degraded" in alarm["dimensions"]["RuleName"]


def glue_import_closure() -> set[str]:
    """The sub-packages of moviestream that the Glue entries import, directly or not (every import
    statement counts, those inside functions too)."""
    import ast

    def source(module: str) -> Path | None:
        path = ROOT.joinpath(*module.split("."))
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    seen: set[str] = set()
    todo = ["moviestream.glue.streaming_job", "moviestream.glue.backfill_job"]
    while todo:
        module = todo.pop()
        path = source(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(2, len(parts))]  # the packages' __init__ run too
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("moviestream."):
                todo += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.startswith("moviestream.")]
    return {m.split(".")[1] for m in seen if m.count(".") >= 1}


# --- where it lands: the region and the zones ---------------------------------------------------

ZONES = TERRAFORM / "modules" / "zones"
AZ_TABLE = ZONES / "redshift_serverless_az_ids.json"
REGION_OR_ZONE = re.compile(
    r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast"
    r"|southeast|northwest|southwest)-[0-9][a-z]?\b"  # a region code, or a zone name (region + letter)
    r"|\b[a-z]{2,5}[0-9]-az[0-9]+\b"  # an AZ ID
)


def test_the_region_comes_only_from_the_providers_chain():
    """No region variable and no region in the provider block: AWS_REGION (or the profile)
    chooses it, and every module reads it back from data.aws_region."""
    assert "region" not in named(parsed(TERRAFORM).get("variable", []))
    (provider,) = parsed(TERRAFORM)["provider"]
    assert "region" not in next(iter(provider.values()))
    assert locals_of(TERRAFORM)["region"] == "${data.aws_region.current.region}"
    assert named(parsed(TERRAFORM)["output"])["region"]["value"] == "${local.region}"
    with (TERRAFORM / "localstack" / "localstack_providers_override.tf").open() as fh:
        (override,) = hcl2.load(fh)["provider"]
    assert "region" not in next(iter(override.values()))
    # Modules that take the region get the root's, which is data.aws_region's.
    for call in named(parsed(TERRAFORM)["module"]).values():
        assert call.get("region", "${local.region}") == "${local.region}"
    assert named(parsed(TERRAFORM / "modules" / "network")["module"])["zones"]["region"] == (
        "${data.aws_region.current.region}"
    )


def test_no_region_or_zone_is_written_outside_the_az_id_table():
    files = [
        p for p in TERRAFORM.rglob("*")
        if p.is_file() and p.suffix in {".tf", ".tfvars", ".tftpl", ".json"} and p != AZ_TABLE
        and ".terraform" not in p.parts
    ]  # fmt: skip
    assert len(files) > 40
    found = {str(p.relative_to(ROOT)): REGION_OR_ZONE.findall(p.read_text()) for p in files}
    assert {k: v for k, v in found.items() if v} == {}
    assert REGION_OR_ZONE.findall('region = "eu-west-2"\nzone = "us-east-1c" id = "use1-az3"') == [
        "eu-west-2", "us-east-1c", "use1-az3"
    ]  # fmt: skip


def test_the_az_id_table_cites_aws_and_lists_ids_of_its_own_region():
    table = json.loads(AZ_TABLE.read_text())
    assert (
        table["_source"]
        == "https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-usage-considerations.html"
    )
    for region, ids in table["regions"].items():
        area, direction, number = region.split("-")
        prefix = (
            area + "".join(w[0] for w in re.findall(r"north|south|east|west|central", direction)) + number
        )
        assert all(re.fullmatch(rf"{prefix}-az[0-9]+", i) for i in ids), region
        assert len(set(ids)) == len(ids) >= (2 if region == "us-west-1" else 3), region


def test_the_created_subnets_take_their_zones_by_id_from_the_zones_module():
    network = bodies(parsed(TERRAFORM / "modules" / "network")["resource"])
    assert network["aws_subnet.private"]["availability_zone_id"] == "${local.zone_ids[count.index]}"
    assert network["aws_subnet.public"]["availability_zone_id"] == "${local.zone_ids[0]}"
    assert "availability_zone" not in network["aws_subnet.private"]
    assert locals_of(TERRAFORM / "modules" / "network")["zone_ids"] == "${module.zones.subnet_zone_ids}"
    call = named(parsed(TERRAFORM)["module"])["network"]
    assert call["availability_zone_ids"] == "${var.availability_zone_ids}"


ALL_USE1 = ["use1-az1", "use1-az2", "use1-az3", "use1-az4", "use1-az5", "use1-az6"]


@pytest.mark.tools
@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        # The table's order, skipping the zone it does not list (use1-az3).
        ({"region": "us-east-1", "available_zone_ids": ALL_USE1}, ["use1-az1", "use1-az2", "use1-az4"]),
        # A listed zone this account does not have is passed over.
        ({"region": "us-east-1", "available_zone_ids": ALL_USE1[1:]}, ["use1-az2", "use1-az4", "use1-az5"]),
        # Where AWS allows two zones, three subnets share them.
        ({"region": "us-west-1", "available_zone_ids": ["usw1-az1", "usw1-az3"]}, ["usw1-az1", "usw1-az3", "usw1-az1"]),
        # The operator's choice wins over the table, still kept to what the account has.
        (
            {"region": "us-east-1", "available_zone_ids": ALL_USE1, "override_zone_ids": ["use1-az6", "use1-az3", "use1-az9", "use1-az5"]},
            ["use1-az6", "use1-az3", "use1-az5"],
        ),
        ({"region": "us-east-2", "available_zone_ids": ["use2-az3", "use2-az2", "use2-az1"], "subnet_count": 4},
         ["use2-az1", "use2-az2", "use2-az3", "use2-az1"]),
    ],
    ids=["table-order", "missing-zone", "two-zone-region", "override", "four-subnets"],
)  # fmt: skip
def test_the_zones_module_chooses_supported_zone_ids(tmp_path, variables, expected):
    ok, outputs = terraform_outputs(ZONES, tmp_path / "zones", variables)
    assert ok, outputs
    assert outputs["subnet_zone_ids"] == expected


@pytest.mark.tools
@pytest.mark.parametrize(
    "variables",
    [
        {"region": "af-south-1", "available_zone_ids": ["afs1-az1", "afs1-az2", "afs1-az3"]},
        {"region": "us-east-1", "available_zone_ids": ["use1-az3", "use1-az1"]},
    ],
    ids=["unlisted-region", "too-few-supported"],
)
def test_too_few_zones_stops_the_plan_and_says_what_to_set(tmp_path, variables):
    ok, error = terraform_outputs(ZONES, tmp_path / "zones", variables)
    assert not ok
    assert f"Fewer than 3 Availability Zones for Redshift Serverless in {variables['region']}" in error
    assert "Set availability_zone_ids to three supported AZ IDs" in error
    # An existing VPC's subnets are only checked (a warning), so the table cannot block them.
    ok, outputs = terraform_outputs(ZONES, tmp_path / "listed-only", {**variables, "place_subnets": False})
    assert ok, outputs


# --- issue 29: teardown, one alert path, log groups, guardrails ---------------------------------


def tfvars(name: str) -> dict:
    with (TERRAFORM / "envs" / name).open() as fh:
        return {k: unquote(v) if isinstance(v, str) else v for k, v in hcl2.load(fh).items()}


def test_the_secret_goes_at_once_only_where_the_bucket_may_be_force_destroyed():
    """dev: destroy then apply again reuses the secret's name at once; prod: a 7-day window."""
    secret = bodies(parsed(TERRAFORM)["resource"])["aws_secretsmanager_secret.warehouse_dsn"]
    assert secret["recovery_window_in_days"] == "${var.force_destroy_bucket ? 0 : 7}"
    assert tfvars("dev.tfvars")["force_destroy_bucket"] is True
    assert tfvars("prod.tfvars")["force_destroy_bucket"] is False


def test_every_alert_takes_one_path_eventbridge_to_the_topic():
    """The jobs put events and never publish to SNS: no topic argument, no sns:Publish on the
    jobs' role; every alert pattern has its rule to the topic; no rule forwards Glue Data
    Quality's results (other workloads' too)."""
    from moviestream.core.event_patterns import ALERT_PATTERNS, PATTERN_DIR
    from moviestream.pipeline import alerts

    for job in glue_jobs().values():
        arguments = job["default_arguments"]
        assert "alert_topic_arn" not in json.dumps(arguments)
    glue_role = policy_documents()["iam/glue_jobs"]["statement"]
    assert not any("sns:" in a for s in glue_role for a in s["actions"])
    alert_patterns = locals_of(TERRAFORM / "modules" / "alerts")["alert_patterns"]
    assert sorted(unquote(v) for v in alert_patterns.values()) == sorted(ALERT_PATTERNS)
    assert not any("glue-dataquality" in p.read_text() for p in PATTERN_DIR.glob("*.json"))
    source = Path(alerts.__file__).read_text()
    assert '_client("events")' in source and '_client("sns")' not in source and "TopicArn" not in source


def test_every_log_group_has_a_retention_and_the_jobs_log_to_the_stacks_own():
    groups = {
        key: body
        for module in MODULE_DIRS
        for key, body in bodies(parsed(module).get("resource", [])).items()
        if key.startswith("aws_cloudwatch_log_group.")
    }
    assert set(groups) == {
        "aws_cloudwatch_log_group.backfill_states",  # the state machine's
        "aws_cloudwatch_log_group.jobs",  # the Glue jobs' output and error groups
        "aws_cloudwatch_log_group.warehouse",  # Redshift Serverless's exports
    }
    assert all(body["retention_in_days"] == "${var.log_retention_days}" for body in groups.values())
    module_calls = named(parsed(TERRAFORM)["module"])
    for module in ("alerts", "glue_jobs", "redshift"):
        assert module_calls[module]["log_retention_days"] == "${var.log_retention_days}", module
    arguments = {
        unquote(k): v for k, v in locals_of(TERRAFORM / "modules" / "glue_jobs")["common_arguments"].items()
    }
    assert arguments["--custom-logGroup-prefix"] == "${var.log_group_prefix}"
    assert (
        unquote(locals_of(TERRAFORM)["glue_log_group_prefix"]) == "/${local.names.project}/glue"
    )  # not /aws-glue
    logs = next(
        s for s in policy_documents()["iam/glue_jobs"]["statement"] if unquote(s["sid"]) == "WriteJobLogs"
    )
    assert unquote(logs["resources"][0]).endswith(":log-group:${var.log_group_prefix}/*")
    redshift = groups["aws_cloudwatch_log_group.warehouse"]
    assert (
        unquote(redshift["name"]) == "/aws/redshift/${var.name}/${each.value}"
    )  # the group Redshift uses when it exists


def test_no_undocumented_conf_and_the_workgroup_config_diff_is_guarded():
    arguments = {unquote(k) for k in locals_of(TERRAFORM / "modules" / "glue_jobs")["common_arguments"]}
    assert "--conf" not in arguments and "--job-language" in arguments
    text = (TERRAFORM / "modules" / "redshift" / "main.tf").read_text()
    assert "ignore_changes = [config_parameter]" in text and "terraform-provider-aws#49939" in text


def test_the_alarms_that_expect_a_running_job_share_one_missing_data_setting():
    kinesis = bodies(parsed(TERRAFORM / "modules" / "kinesis")["resource"])[
        "aws_cloudwatch_metric_alarm.iterator_age"
    ]
    assert kinesis["treat_missing_data"] == "${var.missing_data}"
    calls = named(parsed(TERRAFORM)["module"])
    assert (
        calls["kinesis"]["missing_data"]
        == calls["monitoring"]["missing_data"]
        == "${var.missing_data_alarms}"
    )
    assert tfvars("dev.tfvars")["missing_data_alarms"] == "notBreaching"  # dev is stopped to save money
    assert tfvars("prod.tfvars")["missing_data_alarms"] == "breaching"


def test_dev_caps_the_warehouse_and_prod_is_told():
    """dev: never above 8 RPUs, and a daily limit that fires (24 to 48 RPU-hours) and turns
    queries off; prod: a limit that only reports. The workgroup and the limit take them."""
    dev, prod = tfvars("dev.tfvars"), tfvars("prod.tfvars")
    assert dev["redshift_max_capacity"] == 8
    assert 24 <= dev["redshift_daily_rpu_hours_limit"] <= 48
    assert dev["redshift_usage_limit_breach_action"] == "deactivate"
    assert prod["redshift_usage_limit_breach_action"] == "emit-metric"
    assert prod["redshift_max_capacity"] >= 8
    redshift = bodies(parsed(TERRAFORM / "modules" / "redshift")["resource"])
    assert redshift["aws_redshiftserverless_workgroup.warehouse"]["max_capacity"] == "${var.max_capacity}"
    limit = redshift["aws_redshiftserverless_usage_limit.compute"]
    assert (limit["amount"], limit["breach_action"], unquote(limit["period"])) == (
        "${var.daily_rpu_hours_limit}", "${var.usage_limit_breach_action}", "daily"
    )  # fmt: skip
    calls = named(parsed(TERRAFORM)["module"])
    assert calls["redshift"]["max_capacity"] == "${var.redshift_max_capacity}"
    assert calls["monitoring"]["daily_rpu_hours_limit"] == "${var.redshift_daily_rpu_hours_limit}"
    costs = (ROOT / "docs" / "COSTS.md").read_text()
    assert "48 × $0.375 = **$18**" in costs  # the dev cap's arithmetic, from these settings


def test_the_trust_condition_can_be_dropped_from_both_roles_only_through_one_variable():
    for module, document in (("iam", "glue_assume"), ("redshift", "copy_assume")):
        (statement,) = policy_documents()[f"{module}/{document}"]["statement"]
        (condition,) = statement["dynamic"]
        body = condition['"condition"']
        assert body["for_each"] == "${var.trust_source_account ? [var.account_id] : []}", module
        assert unquote(body["content"][0]["variable"]) == "aws:SourceAccount"
    calls = named(parsed(TERRAFORM)["module"])
    assert (
        calls["iam"]["trust_source_account"]
        == calls["redshift"]["trust_source_account"]
        == "${var.trust_source_account}"
    )
    assert named(parsed(TERRAFORM)["variable"])["trust_source_account"]["default"] is True
