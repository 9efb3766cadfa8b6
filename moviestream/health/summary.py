"""The health page's data, derived from the facts (pure): one row per batch with its checks, the
status header, rule pass rates per time bucket, and bad-record reasons. This is what the page
embeds as JSON and what its charts and tables draw.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from moviestream.core.metrics import quality_score
from moviestream.health.facts import QUARANTINE_AGES, SAMPLES_PER_REASON, Facts
from moviestream.quality.annotations import annotations_of, explain
from moviestream.warehouse.contract import ANNOTATION_COLUMNS, history_runs

MAX_BUCKETS = 40  # heatmap columns: one per batch up to this many, else runs of batches
TOP_REASONS = 10


def iso(value: datetime | None) -> str | None:
    """A naive UTC time as ISO 8601 with Z (what the charts parse as UTC)."""
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def batch_rows(facts: Facts) -> list[dict[str, Any]]:
    """One row per batch, oldest first, numbered ``seq``; ``checks`` lists every way its ledger
    row disagrees with the bad-record file in S3 or the rows in the warehouse."""
    verdicts: dict[tuple, list[tuple[str, str]]] = defaultdict(list)
    for o in facts.outcomes:
        verdicts[(o["job_name"], o["stream_id"], o["batch_id"])].append((o["rule"], o["outcome"]))
    rows = []
    for seq, b in enumerate(sorted(facts.ledger, key=lambda r: (r["committed_at"], r["batch_id"])), start=1):
        key = (b["job_name"], b["stream_id"], b["batch_id"])
        score, failed, errored = quality_score(verdicts[key])
        checks = []
        if b["records_in"] != b["good_records"] + b["bad_records"] + b["duplicates_dropped"]:
            checks.append("records in ≠ good + bad + duplicates dropped")
        bad_file = facts.bad_files.get(b["bad_records_uri"]) if b["bad_records_uri"] else None
        lines = bad_file.lines if bad_file else 0
        if bad_file is not None and bad_file.error:
            checks.append(f"bad-record file unreadable: {bad_file.error}")
        elif lines != b["bad_records"]:
            checks.append(f"ledger has {b['bad_records']} bad records, S3 has {lines} lines")
        if b["movies_upserted"] > b["good_records"]:
            checks.append(f"{b['movies_upserted']} movies upserted from {b['good_records']} good records")
        attributed = facts.loaded.get((b["job_name"], b["batch_id"]), 0)
        if attributed > facts.upserted.get((b["job_name"], b["batch_id"]), 0):
            checks.append(f"{attributed} warehouse rows name this batch, more than it upserted")
        total = b["seconds_total"] or 0.0
        judge, s3 = b["seconds_judge"] or 0.0, b["seconds_s3"] or 0.0
        rows.append(
            {
                "seq": seq,
                "job": b["job_name"],
                "stream_id": b["stream_id"],
                "batch_id": b["batch_id"],
                "committed_at": iso(b["committed_at"]),
                "records_in": b["records_in"],
                "good": b["good_records"],
                "bad": b["bad_records"],
                "duplicates": b["duplicates_dropped"],
                "movies_upserted": b["movies_upserted"],
                "bad_lines_in_s3": lines,
                "bad_records_uri": b["bad_records_uri"],
                "lag_p50_s": _float(b["lag_p50_s"]),
                "lag_p95_s": _float(b["lag_p95_s"]),
                "lag_max_s": _float(b["lag_max_s"]),
                "seconds_judge": _float(judge),
                "seconds_s3": _float(s3),
                "seconds_other": _float(max(total - judge - s3, 0.0)),
                "seconds_warehouse": _float(b["seconds_warehouse"]),
                "retried_errors": b["retried_errors"],
                "breached": bool(b["breached"]),
                "score": None if score is None else round(score, 4),
                "rules_failed": failed,
                "rules_errored": errored,
                "checks": checks,
            }
        )
    return rows


def status(facts: Facts, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The header: freshness, the last hour, the latest score and lag, failed/breached/flagged."""
    newest = max(facts.ledger, key=lambda r: r["committed_at"], default=None)
    scored = [r for r in rows if r["score"] is not None]
    lagged = [r for r in rows if r["lag_max_s"] is not None]
    return {
        "read_at": iso(facts.read_at),
        "last_commit": iso(newest["committed_at"]) if newest else None,
        "freshness_s": round((facts.read_at - newest["committed_at"]).total_seconds(), 1) if newest else None,
        "last_hour": facts.last_hour,
        "latest_score": scored[-1]["score"] if scored else None,
        "latest_lag_p50_s": lagged[-1]["lag_p50_s"] if lagged else None,
        "latest_lag_max_s": lagged[-1]["lag_max_s"] if lagged else None,
        "batches": len(rows),
        "failed_batches": sum(1 for r in rows if r["retried_errors"]),
        "breached_batches": sum(1 for r in rows if r["breached"]),
        "flagged_batches": sum(1 for r in rows if r["checks"]),
        **views_status(facts),
    }


def views_status(facts: Facts) -> dict[str, Any]:
    """The materialized views: staleness (now minus the commit of the oldest batch they lack; 0
    when they hold every committed batch) and the newest refresh."""
    refresh = facts.last_refresh
    return {
        "views_current": facts.views.oldest_pending is None,  # they hold every committed batch
        "views_staleness_s": round(facts.views.seconds(facts.read_at), 1),
        "views_included": iso(facts.views.included),
        "views_last_refresh": iso(refresh["started_at"]) if refresh else None,
        "views_last_refresh_by": refresh["refresher"] if refresh else None,
        "views_last_refresh_s": _float(refresh["seconds"]) if refresh else None,
        "views_last_refresh_ok": bool(refresh["succeeded"]) if refresh else None,
        "views_last_refresh_error": refresh["error"] if refresh else None,
    }


def buckets(rows: list[dict[str, Any]]) -> dict[int, int]:
    """seq -> heatmap bucket: one per batch up to MAX_BUCKETS batches, else equal runs."""
    size = max(1, -(-len(rows) // MAX_BUCKETS))
    return {r["seq"]: (r["seq"] - 1) // size for r in rows}


def rule_cells(facts: Facts, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rule x bucket: passed, failed and errored counts, and the pass rate over passed + failed
    (None when every evaluation errored: shown apart, like the score)."""
    bucket_of = buckets(rows)
    seq_of = {(r["job"], r["stream_id"], r["batch_id"]): r["seq"] for r in rows}
    start: dict[int, str] = {}
    for r in rows:
        start.setdefault(bucket_of[r["seq"]], r["committed_at"])
    counts: dict[tuple[str, int], Counter] = defaultdict(Counter)
    for o in facts.outcomes:
        seq = seq_of.get((o["job_name"], o["stream_id"], o["batch_id"]))
        if seq is not None:
            counts[(o["rule"], bucket_of[seq])][o["outcome"].lower()] += 1
    cells = []
    for (rule, bucket), c in sorted(counts.items()):
        judged = c["passed"] + c["failed"]
        cells.append(
            {
                "rule": rule,
                "bucket": bucket,
                "bucket_start": start[bucket],
                "passed": c["passed"],
                "failed": c["failed"],
                "errored": sum(c.values()) - judged,
                "pass_rate": round(c["passed"] / judged, 4) if judged else None,
            }
        )
    return cells


def reason_keys(record: dict[str, Any]) -> list[str]:
    """What a bad record is counted under: each of its reasons, a rule's failure under the rule's
    text (not each failing value: 'IsComplete "title": Value: NULL ...' counts as 'IsComplete
    "title"'); a reason that is no rule's (a payload that did not parse) as it is."""
    rules = record.get("failed_rules") or []
    keys = [next((rule for rule in rules if reason.startswith(rule)), reason) for reason in record["reasons"]]
    return list(dict.fromkeys(keys))


def reasons(facts: Facts, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(counts per reason and bucket, the top reasons with sample records), from the bad records
    in S3; reasons as reason_keys gives them. A record with several counts once under each."""
    bucket_of = buckets(rows)
    by_uri = {r["bad_records_uri"]: r for r in rows if r["bad_records_uri"]}
    per_bucket: Counter = Counter()
    start: dict[int, str] = {}
    totals: Counter = Counter()
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for uri, bad_file in facts.bad_files.items():
        row = by_uri.get(uri)
        if row is None:
            continue
        bucket = bucket_of[row["seq"]]
        start.setdefault(bucket, row["committed_at"])
        for record in bad_file.records:
            for reason in reason_keys(record):
                per_bucket[(reason, bucket)] += 1
                totals[reason] += 1
                if len(samples[reason]) < SAMPLES_PER_REASON:
                    samples[reason].append(
                        {k: record.get(k) for k in ("event_id", "title", "year", "rating", "record_error")}
                        | {"batch": f"{row['job']} #{row['batch_id']}"}
                    )
    over_time = [
        {"reason": reason, "bucket": bucket, "bucket_start": start[bucket], "records": n}
        for (reason, bucket), n in sorted(per_bucket.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    top = [
        {"reason": reason, "records": n, "samples": samples[reason]}
        for reason, n in totals.most_common(TOP_REASONS)
    ]
    return over_time, top


QUARANTINE_REASONS = 8  # reasons the quarantine chart names; the rest are "other reasons"


def quarantine(facts: Facts) -> dict[str, Any]:
    """The quarantine index: records by status, the open ones by reason and age (the most common
    reasons by name, the rest together), and each replay's records by the status it left them in."""
    totals: dict[str, int] = {}
    for row in facts.quarantine_open:
        totals[row["reason"]] = totals.get(row["reason"], 0) + row["records"]
    named = sorted(totals, key=lambda r: (-totals[r], r))[:QUARANTINE_REASONS]
    cells: dict[tuple[str, str], int] = {}
    for row in facts.quarantine_open:
        reason = row["reason"] if row["reason"] in named else "other reasons"
        cells[(reason, row["age"])] = cells.get((reason, row["age"]), 0) + row["records"]
    replays: dict[str, dict[str, Any]] = {}
    for row in facts.replays:
        replay = replays.setdefault(row["replay_id"], {"replay_id": row["replay_id"], "at": iso(row["at"])})
        replay[row["status"]] = replay.get(row["status"], 0) + int(row["records"])
        replay["at"] = min(replay["at"], iso(row["at"]) or replay["at"])
    order = [*named, *(["other reasons"] if len(totals) > len(named) else [])]
    return {
        "by_status": facts.quarantine_by_status,
        "open": facts.quarantine_by_status.get("open", 0),
        # rank and order are numbers the chart sorts by: a sort list of the reasons themselves
        # would put outside text into a Vega expression (a U+2028 in one broke the page)
        "open_by_reason_age": [
            {"reason": r, "age": a, "records": n, "rank": order.index(r), "order": QUARANTINE_AGE_ORDER[a]}
            for (r, a), n in sorted(
                cells.items(), key=lambda c: (order.index(c[0][0]), QUARANTINE_AGE_ORDER[c[0][1]])
            )
        ],
        "reason_order": order,
        "replays": sorted(replays.values(), key=lambda r: r["at"] or "", reverse=True),
    }


QUARANTINE_AGE_ORDER = {label: i for i, (label, _) in enumerate(QUARANTINE_AGES)}


HISTORY_METRICS = 6  # metrics the history chart shows at most: those with points out or annotated


def history_points(facts: Facts) -> list[dict[str, Any]]:
    """The job's metric history where people or the anomaly walk made an exception: for each
    metric (at most HISTORY_METRICS) with a point out of the baseline or annotated, every point,
    with its status (in, anomaly, excluded, included, reset) and why."""
    runs = history_runs(facts.history_rows)
    if not runs:
        return []
    recorded = {(j, s, int(b)): iso(at) for j, s, b, at, _, _ in facts.history_rows}
    columns = ANNOTATION_COLUMNS
    annotations = annotations_of([dict(zip(columns, row, strict=True)) for row in facts.annotation_rows])
    points: list[dict[str, Any]] = []
    shown = 0
    for metric in sorted({m for _, metrics in runs for m in metrics}):
        explained = explain(runs, annotations, metric)
        if all(p["in_baseline"] and not p["why"] for p in explained):
            continue  # nothing to mark: the chart would only repeat the metric
        shown += 1
        if shown > HISTORY_METRICS:
            break
        for p in explained:
            job, stream, batch = p["run"]
            points.append({"metric": metric, "job": job, "stream_id": stream, "batch_id": batch,
                           "committed_at": recorded[p["run"]], "value": p["value"],
                           "status": p["status"], "why": p["why"]})  # fmt: skip
    return points


def page_data(facts: Facts) -> dict[str, Any]:
    """Everything the page shows, as the JSON it embeds."""
    rows = batch_rows(facts)
    over_time, top = reasons(facts, rows)
    return {
        "status": status(facts, rows),
        "batches": rows,
        "rules": rule_cells(facts, rows),
        "reasons_over_time": over_time,
        "top_reasons": top,
        "quarantine": quarantine(facts),
        "history": history_points(facts),
    }
