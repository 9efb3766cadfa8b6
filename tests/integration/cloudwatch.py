"""Reading the jobs' metrics back from CloudWatch (LocalStack's) in the tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from moviestream.core.config import AwsSettings


def statistic(
    namespace: str, job_name: str, metric: str, stat: str, extra_dims: Sequence[dict] = (), period: int = 7200
) -> list[float]:
    """GetMetricStatistics of a job metric over the last hour: one value per period."""
    now = datetime.now(UTC)
    points = (
        AwsSettings()
        .client("cloudwatch")
        .get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": "JobName", "Value": job_name}, *extra_dims],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=period,
            Statistics=[stat],
        )["Datapoints"]
    )
    return [p[stat] for p in points]
