"""The per-batch pipeline's configuration, and the one place every entry builds it from its
options (the local job's and the backfill's flags, the Glue jobs' arguments)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from moviestream.core.config import AwsSettings
from moviestream.core.failure import FailurePolicy, policy_from
from moviestream.pipeline.alerts import AlertConfig
from moviestream.quality.dqdl import Ruleset
from moviestream.quality.reference_sources import DEFAULT_SCHEMAS, Binding, parse_bindings


@dataclass(frozen=True)
class PipelineConfig:
    job_name: str
    ruleset: Ruleset
    bucket: str
    warehouse_dsn: str
    bad_records_prefix: str = "bad_records"
    rule_outcomes_prefix: str = "rule_outcomes"
    aws: AwsSettings = field(default_factory=AwsSettings)
    alerts: AlertConfig | None = None  # None: no alerts
    metrics_namespace: str | None = None  # CloudWatch namespace of moviestream/core/metrics.py; None: none
    failure: FailurePolicy = field(default_factory=FailurePolicy)  # moviestream/core/failure.py
    # The data-quality evaluation context whose metric history dynamic rules and DetectAnomalies
    # read (movies.metric_history); None: the job name.
    evaluation_context: str | None = None
    # Reference datasets the rules compare with (--ref ALIAS=SOURCE), reloaded this often (0: never).
    references: tuple[Binding, ...] = ()
    reference_reload_s: float = 300.0
    # People's annotations on the metric history (moviestream/quality/annotations.py) are read
    # again this often, so a running job honours a new one without a restart.
    annotations_reload_s: float = 60.0
    # Poison isolation (see BatchPipeline._isolate): past this many records whose judging raised,
    # the batch fails as a whole (a systematic bug is not quarantined record by record).
    max_isolated_records: int = 100
    # Refresh the warehouse's materialized views at most this often after batches commit
    # (moviestream/pipeline/views_refresher.py); 0: never (someone else refreshes them).
    views_refresh_s: float = 60.0

    @property
    def context(self) -> str:
        return self.evaluation_context or self.job_name


def build_config(
    *,
    job_name: str,
    ruleset: Ruleset,
    bucket: str,
    warehouse_dsn: str,
    aws: AwsSettings,
    metrics_namespace: str,
    evaluation_context: str,
    references: Sequence[str],
    reference_schemas: str = ",".join(DEFAULT_SCHEMAS),
    reference_reload_seconds: float,
    annotations_reload_seconds: float = 60.0,
    degraded_after_seconds: float,
    give_up_after_seconds: float,
    max_isolated_records: int,
    alerts: AlertConfig | None = None,
    views_refresh_seconds: float = 60.0,
    bad_records_prefix: str = "bad_records",
    rule_outcomes_prefix: str = "rule_outcomes",
) -> PipelineConfig:
    """A PipelineConfig from an entry's options as given: blank texts mean "none" (the metrics
    namespace, the evaluation context), prefixes lose their slashes, ``references`` are
    ``ALIAS=SOURCE`` texts (a bad one raises ReferenceLoadError, a ValueError)."""
    return PipelineConfig(
        job_name=job_name,
        ruleset=ruleset,
        bucket=bucket,
        warehouse_dsn=warehouse_dsn,
        bad_records_prefix=bad_records_prefix.strip("/"),
        rule_outcomes_prefix=rule_outcomes_prefix.strip("/"),
        aws=aws,
        alerts=alerts,
        metrics_namespace=metrics_namespace.strip() or None,
        evaluation_context=evaluation_context.strip() or None,
        references=parse_bindings(references, reference_schemas.split(",")),
        reference_reload_s=reference_reload_seconds,
        annotations_reload_s=annotations_reload_seconds,
        failure=policy_from(degraded_after_seconds, give_up_after_seconds),
        max_isolated_records=max_isolated_records,
        views_refresh_s=views_refresh_seconds,
    )
