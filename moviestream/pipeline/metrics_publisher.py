"""Publishing the jobs' CloudWatch metrics (moviestream/core/metrics.py), in the background.

A batch hands its MetricData to a queue and goes on; one thread sends it with PutMetricData, one
attempt with short timeouts (AwsSettings.client's best effort). So an unreachable or slow
CloudWatch never holds up or fails a batch: a failed call is logged and counted, and when the
queue is full (CloudWatch slower than the batches) the batch's metrics are dropped and counted.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any

from moviestream.core import logs
from moviestream.core.config import AwsSettings
from moviestream.core.metrics import requests

log = logs.get("metrics")

_STOP = object()


class MetricsPublisher:
    def __init__(self, namespace: str, aws: AwsSettings, max_pending: int = 32) -> None:
        self.namespace = namespace
        self._aws = aws
        self._client: Any = None  # a boto3 CloudWatch client, made on the first call
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_pending)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.published = 0  # PutMetricData calls that succeeded
        self.failures = 0  # calls that failed
        self.dropped = 0  # batches whose metrics were never sent (queue full)

    def publish(self, metric_data: list[dict[str, Any]], batch: str) -> None:
        """Queue one batch's MetricData; never blocks, never raises."""
        if not metric_data:
            return
        self._start()
        try:
            self._queue.put_nowait((metric_data, batch))
        except queue.Full:
            self.dropped += 1
            log.error("metrics_dropped", batch=batch, reason="queue full", dropped=self.dropped)

    def close(self, timeout_s: float = 3.0) -> None:
        """Send what is queued, waiting at most ``timeout_s`` (a job's last batches), then stop."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        with contextlib.suppress(queue.Full):  # still full: the thread is stuck, leave it
            self._queue.put(_STOP, timeout=timeout_s)
        thread.join(timeout_s)
        log.info("metrics_closed", published=self.published, failures=self.failures, dropped=self.dropped)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="metrics-publisher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            metric_data, batch = item
            for request in requests(metric_data):  # one call for any ruleset under ~985 rules
                self._put(request, batch)

    def _put(self, metric_data: list[dict[str, Any]], batch: str) -> None:
        try:
            if self._client is None:
                self._client = self._aws.client("cloudwatch", best_effort=True)
            self._client.put_metric_data(Namespace=self.namespace, MetricData=metric_data)
        except Exception as exc:  # metrics must never stop the load
            self.failures += 1
            log.error("metrics_failed", batch=batch, error=str(exc).splitlines()[0], failures=self.failures)
            return
        self.published += 1
