"""Data-quality alerts of a micro-batch: one EventBridge event per breach.

One path per event: the job puts the event, and EventBridge rules (moviestream/core/eventbridge/
pipeline_breach.json, pipeline_degraded.json) route it to the alert topic, on AWS (Terraform's
modules/alerts) and locally (the bootstrap) alike. The job never publishes to SNS itself, so
each alert arrives once, and anything else that wants the events subscribes to the bus.

A batch breaches when its share of bad records exceeds the threshold (default 5%) or when a
dataset-level rule fails (one that judges the batch as a whole, like Completeness, as opposed to
a rule every row must pass, whose failures are already counted as bad records).

Alerts are sent after the S3 writes and before the warehouse transaction, so a crash can repeat
an alert but never lose one; ``alert_id`` (job/stream/batch) lets a consumer drop repeats.
Publishing is best effort: a failure is logged and the batch still loads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from moviestream.core import logs
from moviestream.core.config import AwsSettings
from moviestream.quality.dqdl import Ruleset
from moviestream.quality.evaluate import row_decisive

log = logs.get("alerts")

DEFAULT_FAILURE_RATIO = 0.05
EVENT_DETAIL_TYPE = "Data quality breach"


@dataclass(frozen=True)
class AlertConfig:
    event_source: str = "moviestream.pipeline"
    event_bus: str = "default"
    failure_ratio_threshold: float = DEFAULT_FAILURE_RATIO


def dataset_level_rules(ruleset: Ruleset) -> frozenset[str]:
    """Canonical texts of the rules that judge a batch as a whole rather than each row."""
    return frozenset(node.render() for node in ruleset.rules if not row_decisive(node))


def breach_message(
    *,
    job: str,
    stream_id: str,
    batch_id: int,
    good: int,
    bad: int,
    duplicates: int,
    outcomes: Sequence[dict[str, Any]],
    dataset_rules: frozenset[str],
    threshold: float,
    bad_records_uri: str | None,
    rule_outcomes_uri: str,
) -> dict[str, Any] | None:
    """The alert for a batch, or None when it does not breach. Pure."""
    judged = good + bad
    ratio = bad / judged if judged else 0.0
    failed = [o for o in outcomes if o["Outcome"] != "Passed"]
    failed_dataset = [o for o in failed if o["Rule"] in dataset_rules]
    breaches = []
    if ratio > threshold:
        breaches.append(f"{ratio:.1%} of records are bad, over the {threshold:.1%} threshold")
    breaches.extend(f"dataset-level rule failed: {o['Rule']}" for o in failed_dataset)
    if not breaches:
        return None
    return {
        "alert_id": f"{job}/{stream_id}/{batch_id}",
        "job": job,
        "stream_id": stream_id,
        "batch_id": batch_id,
        "breaches": breaches,
        "counts": {"good": good, "bad": bad, "duplicates_dropped": duplicates},
        "failure_ratio": round(ratio, 6),
        "failure_ratio_threshold": threshold,
        "failed_rules": [{"Rule": o["Rule"], "FailureReason": o["FailureReason"]} for o in failed],
        "bad_records_uri": bad_records_uri,
        "rule_outcomes_uri": rule_outcomes_uri,
    }


# The pipeline's own health (moviestream/core/failure.py), beside the data-quality breaches.
DEGRADED_DETAIL_TYPE = "Pipeline degraded"
VIEWS_REFRESH_FAILED_DETAIL_TYPE = "Views refresh failed"
RECOVERED_DETAIL_TYPE = "Pipeline recovered"
FAILED_DETAIL_TYPE = "Pipeline failed"


def health_message(kind: str, *, job: str, step: str, seconds: float, error: str | None) -> dict[str, Any]:
    """A degraded, recovered or failed event's body. Pure."""
    return {
        "alert_id": f"{job}/{kind}/{step}",
        "job": job,
        "state": kind,
        "step": step,
        "outage_seconds": round(seconds, 1),
        "error": error,
    }


def views_refresh_message(*, job: str, error: str) -> dict[str, Any]:
    """A failed refresh of the materialized views (a warning: the batches keep loading). Pure."""
    return {"alert_id": f"{job}/views-refresh", "job": job, "state": "views refresh failed", "error": error}


class AlertPublisher:
    """EventBridge, best effort: one attempt with short timeouts; a failure is logged and counted
    (``failures``), never raised, so alerting never holds up or fails a batch."""

    def __init__(self, config: AlertConfig, aws: AwsSettings) -> None:
        self.config = config
        self._aws = aws
        self._clients: dict[str, Any] = {}
        self.failures = 0

    def _client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._aws.client(service, best_effort=True)
        return self._clients[service]

    def _send(self, detail_type: str, message: dict[str, Any]) -> bool:
        body = json.dumps(message)
        try:
            response = self._client("events").put_events(
                Entries=[
                    {
                        "Source": self.config.event_source,
                        "DetailType": detail_type,
                        "Detail": body,
                        "EventBusName": self.config.event_bus,
                    }
                ]
            )
            if response.get("FailedEntryCount"):
                raise RuntimeError(f"EventBridge refused the event: {response['Entries'][0]}")
        except Exception as exc:  # alerting must not stop the load
            self.failures += 1
            log.error(
                "alert_failed",
                alert_id=message["alert_id"],
                error=str(exc).splitlines()[0],
                failures=self.failures,
            )
            return False
        return True

    def publish(self, message: dict[str, Any]) -> None:
        if self._send(EVENT_DETAIL_TYPE, message):
            log.warning("alert_sent", alert_id=message["alert_id"], breaches=message["breaches"])

    def publish_health(self, message: dict[str, Any]) -> None:
        """A degraded, recovered or failed event (health_message)."""
        detail_type = {
            "degraded": DEGRADED_DETAIL_TYPE,
            "recovered": RECOVERED_DETAIL_TYPE,
            "failed": FAILED_DETAIL_TYPE,
        }[message["state"]]
        if self._send(detail_type, message):
            log.warning("health_alert_sent", alert_id=message["alert_id"], state=message["state"])

    def publish_views_refresh_failed(self, message: dict[str, Any]) -> None:
        """The views could not be refreshed (views_refresh_message)."""
        if self._send(VIEWS_REFRESH_FAILED_DETAIL_TYPE, message):
            log.warning("views_alert_sent", alert_id=message["alert_id"])
