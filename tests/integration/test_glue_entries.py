"""Both Glue entries' ``main()`` as they run on AWS, on the local stack.

Each job script that ``make package`` builds runs in a subprocess, with the core zip on its path
as ``--extra-py-files`` puts it there, and the ``awsglue`` stand-in (tests/glue_standin/) on local
Spark. The process gets what a Glue job gets and nothing of the local stack's defaults:
- no ``AWS_ENDPOINT_URL`` and no access keys in its environment: credentials come from a
  provider (``credential_process`` in its own AWS config file), the region from ``AWS_REGION``;
- the AWS SDK reaches LocalStack only through per-service endpoint variables;
- a listener on 127.0.0.1:4566, the local stack's default port, fails the test on any connection,
  so a fallback to a LocalStack default cannot hide;
- its arguments are the job arguments Terraform sets; the warehouse DSN comes from Secrets Manager.
The effects asserted are ones only ``main()`` produces: ``job.commit()`` reached, ledger rows under
the ``JOB_NAME`` argument, the alert on the topic's queue. Every call into ``awsglue`` is bound to
the signature of AWS's own package (AWSGlueDataplanePython).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from moviestream.core.config import AwsSettings
from moviestream.core.generate import generate
from moviestream.devstack.jobs import ledger_totals
from moviestream.devstack.stack import REPO_ROOT
from tests.integration.alert_route import AlertRoute, new_alert_route
from tests.integration.cloudwatch import statistic
from tests.integration.databases import fresh_warehouse
from tests.waiting import wait_for

STANDIN = REPO_ROOT / "tests" / "glue_standin"
LOCALSTACK_DEFAULT_PORT = 4566
RULESET = REPO_ROOT / "moviestream" / "rules" / "movies.dqdl"
# boto3's per-service endpoint variables (AWS_ENDPOINT_URL_<service id>) for what the jobs call.
SERVICES = ("S3", "KINESIS", "SECRETS_MANAGER", "SNS", "EVENTBRIDGE", "STS", "CLOUDWATCH")
RUN_TIMEOUT_S = 300


class PortTrap:
    """Accepts and records every connection to 127.0.0.1:4566 while the entries run."""

    def __init__(self) -> None:
        self.connections: list[str] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", LOCALSTACK_DEFAULT_PORT))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(f"{peer[0]}:{peer[1]}")
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@dataclass
class GlueWorld:
    env: dict[str, str]
    dist: Path
    calls: Path
    trap: PortTrap
    bucket: str
    secret: str
    dsn: str
    alerts: AlertRoute


@pytest.fixture(scope="module")
def glue_world(stack, tmp_path_factory) -> GlueWorld:
    work = tmp_path_factory.mktemp("glue")
    try:
        trap = PortTrap()
    except OSError:
        # On a developer's machine a stack of their own may hold the port; in CI nothing may, and
        # a trap that cannot be set is a failure, never a skip.
        message = f"port {LOCALSTACK_DEFAULT_PORT} is in use (a local stack is up?): cannot trap fallbacks"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield _world(stack, work, trap)
    finally:
        trap.close()


def _world(stack, work: Path, trap: PortTrap) -> GlueWorld:
    # The job's package, as make package builds it for Terraform to upload.
    spec = importlib.util.spec_from_file_location("package_glue", REPO_ROOT / "scripts" / "package_glue.py")
    package_glue = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package_glue)
    dist = work / "dist"
    package_glue.build(dist)

    aws = AwsSettings()  # the test's own clients use the stack's environment
    name = f"glue-{uuid.uuid4().hex[:8]}"
    aws.client("s3").create_bucket(Bucket=name)
    aws.client("s3").upload_file(str(RULESET), name, "code/movies.dqdl")
    dsn = stack.dsn_of(name.replace("-", "_"))
    fresh_warehouse(stack, name.replace("-", "_"))
    secret = f"{name}/warehouse-dsn"
    aws.client("secretsmanager").create_secret(Name=secret, SecretString=dsn)
    alerts = new_alert_route(f"{name}-alerts")  # the deployment's alert rules on a bus of its own

    # Credentials from a provider, as on Glue (the job's role), never from the environment.
    creds = work / "credentials.py"
    creds.write_text(
        "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'test', 'SecretAccessKey': 'test'}))\n"
    )
    config = work / "aws-config"
    config.write_text(f"[default]\ncredential_process = {sys.executable} {creds}\n")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MOVIESTREAM_WAREHOUSE_DSN"
    }
    env |= {f"AWS_ENDPOINT_URL_{service}": stack.aws_endpoint for service in SERVICES}
    env |= {
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-credentials"),
        "HOME": str(work),
        # --extra-py-files puts the core zip on the job's path; the stand-in plays the runtime.
        "PYTHONPATH": f"{STANDIN}{os.pathsep}{dist / 'moviestream_core.zip'}",
        "GLUE_STANDIN_CALLS": str(work / "calls.jsonl"),
        "GLUE_STANDIN_CHECKPOINT_ROOT": str(work / "s3-checkpoints"),
    }
    return GlueWorld(env, dist, work / "calls.jsonl", trap, name, secret, dsn, alerts)


def _start(world: GlueWorld, script: str, args: dict[str, str], log: Path) -> subprocess.Popen:
    argv = [sys.executable, str(STANDIN / "run_script.py"), str(world.dist / script)]
    for key, value in args.items():
        argv += [f"--{key}", value]
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv, env=world.env, stdout=out, stderr=subprocess.STDOUT, cwd=world.dist, start_new_session=True
        )


def _run_to_end(world: GlueWorld, script: str, args: dict[str, str], log: Path) -> int | None:
    """Run an entry that ends by itself (the backfill, a replay); its exit code (None: it was
    still running after RUN_TIMEOUT_S, and was killed)."""
    proc = _start(world, script, args, log)
    try:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=RUN_TIMEOUT_S)
        return proc.returncode
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _calls(world: GlueWorld) -> list[dict]:
    if not world.calls.exists():
        return []
    return [json.loads(line) for line in world.calls.read_text().splitlines()]


def _ledger_job_names(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT DISTINCT job_name FROM movies.batch_ledger")}


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Run:
    job_name: str
    args: dict[str, str]
    exit_code: int
    log: Path
    expected_records: int


@pytest.fixture(scope="module")
def streaming_run(glue_world, tmp_path_factory) -> Run:
    """The streaming entry over a stream of 300 generated rows, stopped with SIGTERM once the
    ledger accounts for every record."""
    world = glue_world
    tmp_path = tmp_path_factory.mktemp("glue-streaming")
    kinesis = AwsSettings().client("kinesis")
    stream = f"{world.bucket}-stream"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.5})
    csv_path = tmp_path / "movies.csv"
    generate(csv_path, rows=300, seed=11, defect_rate=0.2)
    # Plain records: Glue's source hands the payload over as a string (see docs/ARCHITECTURE.md).
    replay = subprocess.run(
        [sys.executable, "-m", "moviestream", "replay", str(csv_path), "--stream-name", stream, "--json"]
        + ["--no-aggregate", "--workers", "1", "--checkpoint", str(tmp_path / "cp.json")]
        + ["--rejects", str(tmp_path / "rejects.jsonl"), "--dead-letter", str(tmp_path / "dead.jsonl")],
        capture_output=True,
        text=True,
        check=True,
    )
    sent = json.loads(replay.stdout.strip().splitlines()[-1])["user_records_sent"]
    job_name = f"glue-streaming-{uuid.uuid4().hex[:6]}"
    args = {
        "JOB_NAME": job_name,
        "stream_arn": f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}",
        "bucket": world.bucket,
        "ruleset_s3_uri": f"s3://{world.bucket}/code/movies.dqdl",
        "warehouse_dsn_secret": world.secret,
        "checkpoint_location": f"s3://{world.bucket}/checkpoints/{job_name}/",
        "window_size": "2 seconds",
        "starting_position": "trim_horizon",
        "max_fetch_records_per_shard": "100",
        "event_bus": world.alerts.bus,
        "metrics_namespace": world.bucket,
    }
    log = tmp_path / "streaming.log"
    proc = _start(world, "streaming_job.py", args, log)
    try:
        wait_for(
            lambda: proc.poll() is not None or ledger_totals(world.dsn, job_name).records_in >= sent,
            RUN_TIMEOUT_S,
            f"every record in the ledger, see {log}",
        )
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # Glue stops a streaming run the same way
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=120)
    finally:
        _stop_group(proc)
    return Run(job_name, args, proc.returncode, log, sent)


def test_streaming_entry_main_runs_as_on_glue(glue_world, streaming_run):
    world, run = glue_world, streaming_run
    job_name = run.job_name
    assert run.exit_code == 0, _tail(run.log)
    totals = ledger_totals(world.dsn, job_name)
    assert totals.records_in == run.expected_records == totals.good + totals.bad + totals.duplicates
    assert run.expected_records > 250
    assert totals.bad > 0 and totals.good > 0
    assert job_name in _ledger_job_names(world.dsn)
    apis = [c["api"] for c in _calls(world)]
    assert "awsglue.context.GlueContext.forEachBatch" in apis
    assert "awsglue.job.Job.commit" in apis  # main() went on to job.commit() after the stream stopped
    # The frame's shape, logged once, so on AWS the first batch answers whether Glue's frame is
    # what source_from_glue_frame reads (terraform/README.md, first five minutes).
    text = run.log.read_text(errors="replace")
    shapes = [
        json.loads(line[line.index("{") :]) for line in text.splitlines() if '"first_batch_schema"' in line
    ]
    assert len(shapes) == 1, shapes
    assert shapes[0]["as_expected"] is True and shapes[0]["payload_column"] == "data", shapes
    objects = AwsSettings().client("s3").list_objects_v2(Bucket=world.bucket, Prefix="bad_records/")
    assert any(f"/job={job_name}/" in o["Key"] for o in objects.get("Contents", []))
    assert _alerts(world, job_name), "no breach alert reached the topic's queue"
    assert sum(_metric(world, job_name, "RecordsIn", "Sum")) == totals.records_in
    assert sum(_metric(world, job_name, "LagP50Seconds", "SampleCount")) == totals.batches
    assert not world.trap.connections, f"something fell back to 127.0.0.1:4566: {world.trap.connections}"


def _metric(world: GlueWorld, job_name: str, name: str, stat: str) -> list[float]:
    return statistic(world.bucket, job_name, name, stat)  # the entries' namespace: the world's bucket


def _alerts(world: GlueWorld, job_name: str) -> list[dict]:
    """The job's alerts that reached the topic through the bus's rules (their events' details)."""
    found: list[dict] = []

    def arrived() -> bool:
        found.extend(m["detail"] for m in world.alerts.take() if m["detail"].get("job") == job_name)
        return bool(found)

    wait_for(arrived, 20, "an alert on the topic's queue")
    return found


@pytest.fixture(scope="module")
def backfill_run(glue_world, tmp_path_factory) -> Run:
    """The backfill entry over a 250-row file under raw/, in chunks of 100 rows."""
    world = glue_world
    tmp_path = tmp_path_factory.mktemp("glue-backfill")
    csv_path = tmp_path / "history.csv"
    generate(csv_path, rows=250, seed=12, defect_rate=0.1)
    AwsSettings().client("s3").upload_file(str(csv_path), world.bucket, "raw/history.csv")
    job_name = f"glue-backfill-{uuid.uuid4().hex[:6]}"
    args = {
        "JOB_NAME": job_name,
        "input_uri": f"s3://{world.bucket}/raw/history.csv",
        "bucket": world.bucket,
        "ruleset_s3_uri": f"s3://{world.bucket}/code/movies.dqdl",
        "warehouse_dsn_secret": world.secret,
        "chunk_rows": "100",
        "metrics_namespace": world.bucket,
    }
    log = tmp_path / "backfill.log"
    return Run(job_name, args, _run_to_end(world, "backfill_job.py", args, log), log, 250)


def test_backfill_entry_main_runs_as_on_glue(glue_world, backfill_run):
    world, run = glue_world, backfill_run
    assert run.exit_code == 0, _tail(run.log)
    summary = json.loads(
        next(line for line in reversed(run.log.read_text().splitlines()) if line.startswith('{"files"'))
    )
    totals = ledger_totals(world.dsn, run.job_name)
    assert summary["chunks_loaded"] == totals.batches == 3
    assert totals.records_in + summary["rejected_rows"] == run.expected_records
    assert totals.records_in == totals.good + totals.bad + totals.duplicates
    assert run.job_name in _ledger_job_names(world.dsn)
    # Its metrics, without lag: a backfill's produced_at is an as-of time.
    assert sum(_metric(world, run.job_name, "RecordsIn", "Sum")) == totals.records_in
    assert _metric(world, run.job_name, "LagP50Seconds", "SampleCount") == []
    with psycopg.connect(world.dsn) as conn:
        lags = conn.execute(
            "SELECT count(lag_p50_s), count(seconds_warehouse) FROM movies.batch_ledger WHERE job_name = %s",
            (run.job_name,),
        ).fetchone()
    assert lags == (0, totals.batches)
    assert "awsglue.job.Job.commit" in [c["api"] for c in _calls(world)]
    assert not world.trap.connections, f"something fell back to 127.0.0.1:4566: {world.trap.connections}"


@pytest.fixture(scope="module")
def replay_run(glue_world, backfill_run, tmp_path_factory) -> Run:
    """The backfill entry in replay mode: the backfill run's quarantined records judged again by a
    ruleset that only asks for a title and a year, in chunks of 20, started as a backfill is."""
    world = glue_world
    tmp_path = tmp_path_factory.mktemp("glue-replay")
    relaxed = 'Rules = [ IsComplete "series_title", IsComplete "released_year" ]\n'
    AwsSettings().client("s3").put_object(Bucket=world.bucket, Key="code/relaxed.dqdl", Body=relaxed.encode())
    args = {
        "JOB_NAME": f"glue-replay-{uuid.uuid4().hex[:6]}",
        "mode": "replay",
        "replay_selection": json.dumps({"job": backfill_run.job_name}),
        "bucket": world.bucket,
        "ruleset_s3_uri": f"s3://{world.bucket}/code/relaxed.dqdl",
        "warehouse_dsn_secret": world.secret,
        "chunk_records": "20",
    }
    log = tmp_path / "replay.log"
    return Run(args["JOB_NAME"], args, _run_to_end(world, "backfill_job.py", args, log), log, 0)


def test_the_replay_mode_runs_as_on_glue(glue_world, backfill_run, replay_run):
    world, run = glue_world, replay_run
    assert backfill_run.exit_code == 0 and run.exit_code == 0, _tail(run.log)
    summary = json.loads(
        next(line for line in reversed(run.log.read_text().splitlines()) if line.startswith('{"replay_id"'))
    )
    with psycopg.connect(world.dsn) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status, COUNT(*) FROM movies.quarantine WHERE job_name = %s GROUP BY status",
                (backfill_run.job_name,),
            ).fetchall()
        )
        by = {r[0] for r in conn.execute("SELECT DISTINCT status_changed_by FROM movies.quarantine"
                                         " WHERE replay_id = %s", (summary["replay_id"],))}  # fmt: skip
        chunks = conn.execute(
            "SELECT COUNT(*), SUM(records_in) FROM movies.batch_ledger WHERE job_name = %s AND stream_id = %s",
            (run.job_name, f"replay-{summary['replay_id']}"),
        ).fetchone()
    # Every record the backfill quarantined was judged again: none is left open.
    assert statuses.get("replayed", 0) > 0 and "open" not in statuses, statuses
    assert summary["replay_totals"] == statuses
    assert chunks[0] == summary["chunks_committed"] == -(-summary["pending"] // 20)
    assert by == {"arn:aws:iam::000000000000:root"}  # the job role's identity, from STS
    assert not world.trap.connections, f"something fell back to 127.0.0.1:4566: {world.trap.connections}"


# -- the calls against AWS's own awsglue package ---------------------------------------------------

REAL_APIS = {
    "awsglue.utils.getResolvedOptions": ("awsglue.utils", "getResolvedOptions", False),
    "awsglue.context.GlueContext.__init__": ("awsglue.context", "GlueContext.__init__", True),
    "awsglue.context.GlueContext.forEachBatch": ("awsglue.context", "GlueContext.forEachBatch", True),
    "awsglue.dataframereader.DataFrameReader.from_options": (
        "awsglue.dataframereader",
        "DataFrameReader.from_options",
        True,
    ),
    "awsglue.job.Job.__init__": ("awsglue.job", "Job.__init__", True),
    "awsglue.job.Job.init": ("awsglue.job", "Job.init", True),
    "awsglue.job.Job.commit": ("awsglue.job", "Job.commit", True),
}


def _real(module: str, qualname: str):
    """The function in AWS's awsglue package (installed from PyPI; the stand-in is only on the
    subprocesses' path)."""
    imported = __import__(module, fromlist=["_"])
    assert "glue_standin" not in (imported.__file__ or ""), imported.__file__
    target = imported
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def test_every_awsglue_call_binds_to_aws_own_signatures(glue_world, streaming_run, backfill_run):
    calls = _calls(glue_world)
    seen = set()
    for call in calls:
        module, qualname, method = REAL_APIS[call["api"]]
        signature = inspect.signature(_real(module, qualname))
        args = ([object()] if method else []) + call["args"]
        signature.bind(*args, **call["kwargs"])  # TypeError if the entries' call would not bind
        seen.add(call["api"])
    assert seen == set(REAL_APIS)


def test_aws_own_parser_resolves_the_entries_arguments(glue_world, streaming_run, backfill_run, replay_run):
    """AWS's getResolvedOptions (pure Python) resolves every argument the entries asked for to the
    value the job was given: what the stand-in answered."""
    from awsglue.utils import getResolvedOptions as real

    calls = [c for c in _calls(glue_world) if c["api"] == "awsglue.utils.getResolvedOptions"]
    for run in (streaming_run, backfill_run, replay_run):
        (call,) = [c for c in calls if run.job_name in c["args"][0]]
        argv, names = call["args"]
        resolved = real(argv, names)
        assert {k: resolved[k] for k in names} == {k: run.args[k] for k in names}
        assert set(names) >= {"JOB_NAME"} and set(names) <= set(run.args)


def test_a_malformed_dsn_in_the_secret_stops_the_entry_without_its_password(glue_world, tmp_path):
    """The DSN the entry reads from Secrets Manager, with the issue's typo: the run fails at start
    (no batch), and nothing it prints holds the password (issue 30)."""
    world = glue_world
    secret = f"{world.bucket}/typo-dsn"
    AwsSettings().client("secretsmanager").create_secret(
        Name=secret, SecretString="redshfit://loader:S3cretPw@warehouse.example:5439/movies"
    )
    args = {
        "JOB_NAME": f"glue-typo-{uuid.uuid4().hex[:6]}",
        "stream_arn": "arn:aws:kinesis:us-east-1:000000000000:stream/never-read",
        "bucket": world.bucket,
        "ruleset_s3_uri": f"s3://{world.bucket}/code/movies.dqdl",
        "warehouse_dsn_secret": secret,
        "checkpoint_location": f"s3://{world.bucket}/checkpoints/typo/",
    }
    log = tmp_path / "typo.log"
    proc = _start(world, "streaming_job.py", args, log)
    try:
        assert proc.wait(timeout=RUN_TIMEOUT_S) != 0
    finally:
        _stop_group(proc)
    text = log.read_text(errors="replace")
    assert "S3cretPw" not in text
    assert (
        "ValueError: the warehouse DSN redshfit://warehouse.example:5439/movies is neither postgresql://… nor"
        ' redshift://…: missing "=" after "redshfit://loader:***@warehouse.example:5439/movies"'
    ) in text
