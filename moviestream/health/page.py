"""The health page as one self-contained HTML file (pure: page data in, HTML out).

Charts are Vega-Lite specs built with Altair, each with its data inline, drawn as SVG in the
browser by the Vega, Vega-Lite and vega-embed bundle that vl-convert ships (about 0.9 MB), inlined
once. Nothing is fetched: no CDN, no font link, so the file opens offline and can be mailed.
"""

from __future__ import annotations

import html
import json
from functools import cache
from typing import Any

import altair as alt

from moviestream.health.facts import QUARANTINE_AGES

WIDTH = 520
HEIGHT = 200
STEP_COLORS = {"judge": "#4c78a8", "S3": "#f58518", "other": "#bab0ac", "warehouse": "#54a24b"}


@cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, for the Vega-Lite version Altair writes."""
    import vl_convert

    version = ".".join(alt.SCHEMA_VERSION.split(".")[:2])  # "v6.4"
    try:
        bundle = vl_convert.javascript_bundle(vl_version=version)  # type: ignore[call-arg]  # its stub wants a snippet
    except ValueError:  # a vl-convert without that exact minor version: its newest
        bundle = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    return bundle.replace("</script", "<\\/script")  # it sits inside a <script> element


def _time(field: str = "committed_at", title: str = "committed (UTC)") -> alt.X:
    return alt.X(f"{field}:T", title=title, scale=alt.Scale(type="utc"), axis=alt.Axis(format="%H:%M:%S"))


BATCH_TOOLTIP = [
    alt.Tooltip("job:N"),
    alt.Tooltip("batch_id:Q", title="batch"),
    alt.Tooltip("committed_at:T", title="committed (UTC)", format="%Y-%m-%d %H:%M:%S"),
]


def _chart(values: list[dict[str, Any]]) -> alt.Chart:
    return alt.Chart(alt.Data(values=values)).properties(width=WIDTH, height=HEIGHT)


def _nothing(message: str) -> dict[str, Any]:
    """A chart with no data says so (an empty plot draws no axes, only Vega warnings)."""
    return (
        alt.Chart(alt.Data(values=[{"message": message}]))
        .mark_text(fontSize=14, color="#666")
        .encode(text="message:N")
        .properties(width=WIDTH, height=60)
        .to_dict()
    )


def throughput_chart(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Records in vs loaded (good) per batch: one point per batch and series."""
    values = [
        {**{k: b[k] for k in ("job", "batch_id", "committed_at")}, "series": series, "records": b[field]}
        for b in batches
        for series, field in (("records in", "records_in"), ("loaded (good)", "good"))
    ]
    return (
        _chart(values)
        .mark_line(point=True)
        .encode(
            x=_time(),
            y=alt.Y("records:Q", title="records per batch"),
            color=alt.Color("series:N", title=None, scale=alt.Scale(range=["#4c78a8", "#54a24b"])),
            detail="job:N",
            tooltip=[*BATCH_TOOLTIP, "series:N", "records:Q"],
        )
        .to_dict()
    )


def lag_chart(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """End-to-end lag p50, p95 and max per streaming batch (the backfill has none)."""
    values = [
        {**{k: b[k] for k in ("job", "batch_id", "committed_at")}, "lag": name, "seconds": b[field]}
        for b in batches
        if b["lag_max_s"] is not None
        for name, field in (("p50", "lag_p50_s"), ("p95", "lag_p95_s"), ("max", "lag_max_s"))
    ]
    return (
        _chart(values)
        .mark_line(point=True)
        .encode(
            x=_time(),
            # symlog: a few old records (a replay, a stuck producer) would flatten the rest
            y=alt.Y("seconds:Q", title="produced → committed (s)", scale=alt.Scale(type="symlog")),
            color=alt.Color("lag:N", title=None, sort=["p50", "p95", "max"]),
            detail="job:N",
            tooltip=[*BATCH_TOOLTIP, "lag:N", "seconds:Q"],
        )
        .to_dict()
    )


def duration_chart(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Each batch's seconds, stacked by step."""
    values = [
        {
            **{k: b[k] for k in ("job", "batch_id", "committed_at", "seq")},
            "step": step,
            "seconds": b[field] or 0,
        }
        for b in batches
        for step, field in (
            ("judge", "seconds_judge"),
            ("S3", "seconds_s3"),
            ("other", "seconds_other"),
            ("warehouse", "seconds_warehouse"),
        )
    ]
    return (
        _chart(values)
        .mark_bar()
        .encode(
            x=alt.X("seq:O", title="batch (oldest to newest)", axis=alt.Axis(labels=len(batches) <= 40)),
            y=alt.Y("seconds:Q", title="seconds", stack="zero"),
            color=alt.Color(
                "step:N",
                title=None,
                sort=list(STEP_COLORS),
                scale=alt.Scale(domain=list(STEP_COLORS), range=list(STEP_COLORS.values())),
            ),
            order=alt.Order("step_order:Q"),
            tooltip=[*BATCH_TOOLTIP, "step:N", "seconds:Q"],
        )
        .transform_calculate(step_order="indexof(['judge', 'S3', 'other', 'warehouse'], datum.step)")
        .to_dict()
    )


def rule_heatmap(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Rule x time: the pass rate of each rule in each run of batches (grey: only errors)."""
    rules = sorted({c["rule"] for c in cells})
    return (
        alt.Chart(alt.Data(values=cells))
        .mark_rect()
        .encode(
            x=alt.X("bucket:O", title="batches, oldest to newest", axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("rule:N", title=None, sort=rules, axis=alt.Axis(labelLimit=360)),
            color=alt.condition(
                "datum.pass_rate === null",
                alt.value("#bbbbbb"),
                alt.Color(
                    "pass_rate:Q",
                    title="pass rate",
                    scale=alt.Scale(domain=[0, 1], range=["#d62728", "#fdd835", "#2ca02c"]),
                ),
            ),
            tooltip=[
                "rule:N",
                alt.Tooltip("bucket_start:T", title="from (UTC)", format="%H:%M:%S"),
                "passed:Q",
                "failed:Q",
                "errored:Q",
                alt.Tooltip("pass_rate:Q", format=".0%"),
            ],
        )
        .properties(width=WIDTH + 200, height=max(60, 22 * len(rules)))
        .to_dict()
    )


def score_chart(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """The data-quality score per batch (rules passed / rules with a verdict)."""
    values = [
        {k: b[k] for k in ("job", "batch_id", "committed_at", "score", "rules_failed", "rules_errored")}
        for b in batches
        if b["score"] is not None
    ]
    return (
        _chart(values)
        .mark_line(point=True, color="#2ca02c")
        .encode(
            x=_time(),
            y=alt.Y("score:Q", title="data-quality score", scale=alt.Scale(domain=[0, 1])),
            detail="job:N",
            tooltip=[
                *BATCH_TOOLTIP,
                alt.Tooltip("score:Q", format=".0%"),
                "rules_failed:Q",
                "rules_errored:Q",
            ],
        )
        .to_dict()
    )


def reasons_chart(over_time: list[dict[str, Any]]) -> dict[str, Any]:
    """Bad records by reason in each run of batches, stacked."""
    return (
        _chart(over_time)
        .mark_bar()
        .encode(
            x=alt.X("bucket:O", title="batches, oldest to newest", axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("records:Q", title="bad records", stack="zero"),
            color=alt.Color(
                "reason:N", title=None, legend=alt.Legend(orient="bottom", columns=1, labelLimit=600)
            ),
            tooltip=[
                "reason:N",
                alt.Tooltip("bucket_start:T", title="from (UTC)", format="%H:%M:%S"),
                "records:Q",
            ],
        )
        .properties(width=WIDTH + 200)
        .to_dict()
    )


AGE_COLOURS = ["#9ecae1", "#4292c6", "#f28e2b", "#d62728"]  # young to old: calm to alarming


def quarantine_chart(quarantine: dict[str, Any]) -> dict[str, Any]:
    """Open records by reason, stacked by how long they have waited."""
    return (
        _chart(quarantine["open_by_reason_age"])
        .mark_bar()
        .encode(
            y=alt.Y(
                "reason:N",
                title=None,
                sort=alt.EncodingSortField("rank", order="ascending"),
                axis=alt.Axis(labelLimit=360),
            ),
            x=alt.X("records:Q", title="open records", stack="zero"),
            color=alt.Color(
                "age:N",
                title="waiting",
                scale=alt.Scale(domain=[label for label, _ in QUARANTINE_AGES], range=AGE_COLOURS),
                legend=alt.Legend(orient="bottom"),
            ),
            order=alt.Order("order:Q"),
            tooltip=["reason:N", "age:N", "records:Q"],
        )
        .properties(width=WIDTH)
        .to_dict()
    )


# The metric history's points by what the baseline makes of them (summary.history_points).
HISTORY_STATUSES = ("in", "anomaly", "excluded", "included", "reset", "before reset")
HISTORY_COLOURS = ("#7f7f7f", "#ff7f0e", "#d62728", "#2ca02c", "#1f77b4", "#c7c7c7")
HISTORY_SHAPES = ("circle", "cross", "cross", "diamond", "triangle-up", "circle")


def history_chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Each metric with an exception in its history: its values over time, each point marked by
    whether the baseline keeps it (grey), left it out as an anomaly, or a person excluded,
    included or reset it. One row a metric, each on its own scale."""
    base = alt.Chart().encode(x=_time(), y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)))
    line = base.mark_line(color="#cccccc")
    dots = base.mark_point(filled=True, size=80, opacity=0.9).encode(
        color=alt.Color(
            "status:N",
            title="in the baseline?",
            scale=alt.Scale(domain=list(HISTORY_STATUSES), range=list(HISTORY_COLOURS)),
            legend=alt.Legend(orient="bottom"),
        ),
        shape=alt.Shape(
            "status:N", scale=alt.Scale(domain=list(HISTORY_STATUSES), range=list(HISTORY_SHAPES))
        ),
        tooltip=[*BATCH_TOOLTIP, "metric:N", "value:Q", "status:N", "why:N"],
    )
    return (
        alt.layer(line, dots, data=alt.Data(values=points))
        .properties(width=WIDTH, height=110)
        .facet(row=alt.Row("metric:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
        .resolve_scale(y="independent")
        .to_dict()
    )


CHARTS = (  # (element id, title, what it answers)
    ("chart-throughput", "Throughput", "records in vs loaded, per batch"),
    ("chart-lag", "End-to-end lag", "produced → committed, p50 / p95 / max per batch"),
    ("chart-duration", "Batch duration", "seconds per batch, by step"),
    ("chart-score", "Data-quality score", "rules passed / rules with a verdict, per batch"),
    ("chart-rules", "Pass rate per rule", "each rule over time (grey: evaluation errors only)"),
    ("chart-reasons", "Bad-record reasons", "bad records by reason over time"),
    ("chart-quarantine", "Quarantine", "open bad records by reason and how long they have waited"),
    (
        "chart-history",
        "Metric history",
        "what the history rules learn from: points left out, and people's annotations",
    ),
)


def chart_specs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    batches = data["batches"]
    none = "no batches in the ledger yet"
    streamed = [b for b in batches if b["lag_max_s"] is not None]
    scored = [b for b in batches if b["score"] is not None]
    return {
        "chart-throughput": throughput_chart(batches) if batches else _nothing(none),
        "chart-lag": lag_chart(batches)
        if streamed
        else _nothing("no streaming batches (a backfill has no lag)"),
        "chart-duration": duration_chart(batches) if batches else _nothing(none),
        "chart-score": score_chart(batches) if scored else _nothing("no rule with a verdict yet"),
        "chart-rules": rule_heatmap(data["rules"]) if data["rules"] else _nothing("no rule outcomes yet"),
        "chart-reasons": (
            reasons_chart(data["reasons_over_time"])
            if data["reasons_over_time"]
            else _nothing("no bad records in these batches")
        ),
        "chart-quarantine": (
            quarantine_chart(data["quarantine"])
            if data["quarantine"]["open_by_reason_age"]
            else _nothing("no open records in quarantine")
        ),
        "chart-history": (
            history_chart(data["history"])
            if data.get("history")
            else _nothing("every point of the metric history is in the baseline")
        ),
    }


# Inside <script>, the HTML parser still reads "<!--", "<script" and "</script" in the text (a
# title such as "<!--<script>" leaves the block open, and the charts vanish). As \u escapes those
# characters mean the same to JSON.parse and nothing to the HTML parser; U+2028 and U+2029 too,
# which older JavaScript reads as line ends.
_SCRIPT_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element, whatever strings the data holds."""
    return json.dumps(value, separators=(",", ":"), default=str).translate(_SCRIPT_UNSAFE)


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _tile(label: str, value: str, warn: bool = False, note: str = "") -> str:
    cls = "tile warn" if warn else "tile"
    return (
        f'<div class="{cls}"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div><div class="note">{html.escape(note)}</div></div>'
    )


def status_tiles(status: dict[str, Any], quarantine: dict[str, Any] | None = None) -> str:
    hour = status["last_hour"]
    quarantine = quarantine or {"open": 0, "by_status": {}}
    return "".join(
        [
            _tile(
                "Freshness",
                _seconds(status["freshness_s"]),
                status["freshness_s"] is None or status["freshness_s"] > 900,
                f"since the last commit ({status['last_commit'] or 'none'})",
            ),
            _views_tile(status),
            _tile(
                "Last hour",
                f"{hour['records_in']:,} in",
                note=f"{hour['good']:,} good · {hour['bad']:,} bad · {hour['batches']:,} batches",
            ),
            _tile(
                "Data-quality score",
                _pct(status["latest_score"]),
                status["latest_score"] is not None and status["latest_score"] < 0.8,
                "latest batch",
            ),
            _tile(
                "Lag",
                _seconds(status["latest_lag_p50_s"]),
                note=f"p50 of the latest streaming batch; max {_seconds(status['latest_lag_max_s'])}",
            ),
            _tile(
                "Failed batches",
                f"{status['failed_batches']}",
                status["failed_batches"] > 0,
                f"retried errors, of {status['batches']} shown · {status['breached_batches']} breached",
            ),
            _tile(
                "Quarantine",
                f"{quarantine['open']:,} open",
                note=" · ".join(
                    f"{n:,} {status}"
                    for status, n in sorted(quarantine["by_status"].items())
                    if status != "open"
                )
                or "bad records waiting: moviestream quarantine list",
            ),
            _tile(
                "Flagged batches",
                f"{status['flagged_batches']}",
                status["flagged_batches"] > 0,
                "ledger disagrees with S3 or the warehouse",
            ),
        ]
    )


VIEWS_STALE_S = 600  # the views-staleness alarm's default threshold (terraform/variables.tf)


def _views_tile(status: dict[str, Any]) -> str:
    """How far the materialized views (top_rated, ...) lag the ledger, and their last refresh."""
    staleness, ok = status["views_staleness_s"], status["views_last_refresh_ok"]
    when = (status["views_last_refresh"] or "")[11:]  # the time of day: the date is the page's
    if status["views_last_refresh"] is None:
        note = "never refreshed since the schema was applied"
    elif ok:
        took = _seconds(status["views_last_refresh_s"])
        note = f"refreshed {when} by {status['views_last_refresh_by']} in {took}"
    else:
        error = status["views_last_refresh_error"] or ""
        error = error if len(error) <= 48 else error[:47] + "…"  # a tile, not a log: the log has it all
        note = f"refresh failed {when}: {error}"
    value = "current" if status["views_current"] else _seconds(staleness) + " stale"
    return _tile("Views", value, staleness > VIEWS_STALE_S or ok is False, note)


def batches_table(batches: list[dict[str, Any]], limit: int = 50) -> str:
    """The last batches, failures first: flagged, then failed (retried), then breached."""
    ordered = sorted(
        batches,
        key=lambda b: (not b["checks"], not b["retried_errors"], not b["breached"], -b["seq"]),
    )[:limit]
    head = (
        "<tr><th>job</th><th>batch</th><th>committed (UTC)</th><th>in</th><th>good</th><th>bad</th>"
        "<th>dup</th><th>score</th><th>lag p50 / max</th><th>seconds</th><th>retried</th>"
        "<th>breached</th><th>checks</th></tr>"
    )
    rows = []
    for b in ordered:
        cls = "flag" if b["checks"] else "fail" if b["retried_errors"] else "breach" if b["breached"] else ""
        seconds = sum(
            b[k] or 0 for k in ("seconds_judge", "seconds_s3", "seconds_other", "seconds_warehouse")
        )
        lag = "–" if b["lag_max_s"] is None else f"{b['lag_p50_s']:.1f} / {b['lag_max_s']:.1f}"
        checks = "; ".join(b["checks"]) or "ok"
        rows.append(
            f'<tr class="{cls}"><td>{html.escape(b["job"])}</td><td>{b["batch_id"]}</td>'
            f"<td>{html.escape(b['committed_at'] or '')}</td><td>{b['records_in']:,}</td>"
            f"<td>{b['good']:,}</td><td>{b['bad']:,}</td><td>{b['duplicates']:,}</td>"
            f"<td>{_pct(b['score'])}</td><td>{lag}</td><td>{seconds:.2f}</td>"
            f"<td>{b['retried_errors']}</td><td>{'yes' if b['breached'] else ''}</td>"
            f"<td>{html.escape(checks)}</td></tr>"
        )
    return f'<table id="batches">{head}{"".join(rows)}</table>'


def reasons_table(top: list[dict[str, Any]]) -> str:
    rows = []
    for r in top:
        samples = "<br>".join(
            html.escape(
                f"{s['batch']}: {s['event_id'] or s['record_error'] or '?'}"
                f" – {s['title'] or '(no title)'} ({s['year'] or '?'}), rating {s['rating'] or '(none)'}"
            )
            for s in r["samples"]
        )
        rows.append(
            f"<tr><td>{html.escape(r['reason'])}</td><td>{r['records']:,}</td><td>{samples}</td></tr>"
        )
    head = "<tr><th>reason</th><th>records</th><th>sample records</th></tr>"
    return (
        f'<table id="reasons">{head}{"".join(rows) or "<tr><td colspan=3>no bad records</td></tr>"}</table>'
    )


def replays_table(replays: list[dict[str, Any]]) -> str:
    """Each replay: when, and how many of its records loaded, failed again or were superseded."""
    head = (
        "<tr><th>replay</th><th>started (UTC)</th><th>loaded</th><th>still bad</th><th>superseded</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{html.escape(r['replay_id'][:12])}</td><td>{html.escape(r['at'] or '')}</td>"
        + "".join(f"<td>{r.get(status, 0):,}</td>" for status in ("replayed", "still_bad", "superseded"))
        + "</tr>"
        for r in replays
    )
    return f'<table id="replays">{head}{rows or "<tr><td colspan=5>no replays yet</td></tr>"}</table>'


STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 20px 28px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 2px; }
.sub { color: #666; margin-bottom: 16px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 18px; }
.tile { border: 1px solid #ddd; border-radius: 8px; padding: 10px 14px; min-width: 170px;
        background: #fafafa; }
.tile.warn { border-color: #d62728; background: #fff3f2; }
.tile .label { color: #555; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.tile .value { font-size: 26px; font-weight: 600; } .tile .note { color: #666; font-size: 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 18px; }
.panel { border: 1px solid #e4e4e4; border-radius: 8px; padding: 12px 14px; }
.panel .what { color: #666; font-size: 12px; margin-bottom: 6px; }
table { border-collapse: collapse; margin-top: 6px; font-size: 13px; }
th, td { border-bottom: 1px solid #eee; padding: 4px 8px; text-align: left; vertical-align: top; }
tr.flag td { background: #fde2e1; } tr.fail td { background: #fff1d6; } tr.breach td { background: #fffbe8; }
"""


def render(data: dict[str, Any], *, title: str, refresh_s: float | None = None) -> str:
    """The whole page. ``refresh_s``: reload itself that often (``health watch``)."""
    specs = chart_specs(data)
    panels = "".join(
        f'<div class="panel"><h2>{html.escape(t)}</h2><div class="what">{html.escape(w)}</div>'
        f'<div class="chart" id="{cid}"></div></div>'
        for cid, t, w in CHARTS
    )
    refresh = f'<meta http-equiv="refresh" content="{refresh_s:g}">' if refresh_s else ""
    status = data["status"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{refresh}
<title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class="sub">generated {html.escape(status["read_at"])} from the warehouse ledger, rule outcomes
and the bad records in S3 · {status["batches"]} latest batches</div>
<div class="tiles" id="status">{status_tiles(status, data["quarantine"])}</div>
<div class="grid">{panels}</div>
<h2 style="margin-top:22px">Top bad-record reasons</h2>{reasons_table(data["top_reasons"])}
<h2 style="margin-top:22px">Replays of quarantined records</h2>{replays_table(data["quarantine"]["replays"])}
<h2 style="margin-top:22px">Last batches (failures first)</h2>{batches_table(data["batches"])}
<script type="application/json" id="health-data">{_script_json(data)}</script>
<script type="application/json" id="chart-specs">{_script_json(specs)}</script>
<script>{vega_bundle()}</script>
<script>
(function () {{
  const specs = JSON.parse(document.getElementById("chart-specs").textContent);
  const drawn = Object.entries(specs).map(function ([id, spec]) {{
    return vegaEmbed("#" + id, spec, {{renderer: "svg", actions: false}})
      .catch(function (e) {{ console.error(e); }});
  }});
  // When every chart is drawn, in ms since navigation began (docs/ARCHITECTURE.md's open time).
  Promise.all(drawn).then(function () {{
    document.body.dataset.chartsDrawnMs = Math.round(performance.now());
  }});
}})();
</script>
</body></html>
"""
