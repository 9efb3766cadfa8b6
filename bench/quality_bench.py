"""`make bench-quality`: the DQDL engine against a bare scan and Great Expectations, in one run.

All four measures read the same 400,000-row typed DataFrame (generated, typed as the job types
it, stored once as Parquet so no measure pays for CSV parsing or typing):
(a) a bare scan: every column of every row read and discarded (Spark's noop sink);
(b) this engine with the seed ruleset (rule outcomes: one aggregation);
(c) this engine with the default ruleset, row-level outcomes included (every row's
    DataQualityRulesPass/Fail/Skip/EvaluationResult written to the noop sink, plus the outcomes);
(d) Great Expectations on Spark with the seed ruleset's two rules as expectations.
Each is timed best of three after one warm-up. Writes bench/results/quality.json.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glue_streaming.spark import local_session
from moviestream.quality.dqdl import parse_ruleset
from moviestream.quality.evaluate import add_row_level_results, rule_outcomes
from moviestream.record import TYPED_COLUMNS
from moviestream.transform import type_movie_fields
from producer.generate import generate

RESULTS = Path("bench/results/quality.json")
RULES = Path("glue_streaming/rules")
WORK = Path(".local/bench/quality")


def typed_parquet(spark, rows: int) -> Path:
    """The generated file, typed by the job's own code, as Parquet (made once per row count)."""
    out = WORK / f"typed-{rows}.parquet"
    if out.exists():
        return out
    csv_path = WORK / f"movies-{rows}.csv"
    generate(csv_path, rows, seed=44, defect_rate=0.1)
    raw = spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(str(csv_path))
    fields = F.create_map(*[x for name in raw.columns for x in (F.lit(name), F.col(f"`{name}`"))])
    typed = type_movie_fields(raw.select(fields.alias("fields"))).select(*TYPED_COLUMNS)
    typed.write.mode("overwrite").parquet(str(out))
    return out


def noop(df: DataFrame) -> None:
    df.write.format("noop").mode("overwrite").save()


def timed(fn, runs: int = 3) -> dict:
    fn()  # warm-up: JIT, Python workers, file listing
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(round(time.perf_counter() - started, 3))
    return {"seconds": min(times), "runs": times}


def great_expectations_seed(df: DataFrame):
    """The seed's two rules as GX expectations: not null, and strictly between 8.0 and 10.3."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # GX draws a progress bar per validation
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # and would try to phone home
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_spark("bench").add_dataframe_asset("movies")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df})
    suite = gx.ExpectationSuite(
        name="seed",
        expectations=[
            gx.expectations.ExpectColumnValuesToNotBeNull(column="imdb_rating"),
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="imdb_rating", min_value=8.0, max_value=10.3, strict_min=True, strict_max=True
            ),
        ],
    )

    def run():
        return batch.validate(suite)

    return run


def main() -> None:
    rows = int(os.environ.get("BENCH_QUALITY_ROWS", "400000"))
    WORK.mkdir(parents=True, exist_ok=True)
    spark = local_session("moviestream-bench-quality")
    try:
        path = typed_parquet(spark, rows)
        df = spark.read.parquet(str(path))
        assert df.count() == rows
        seed = parse_ruleset((RULES / "seed_top_rated.dqdl").read_text())
        default = parse_ruleset((RULES / "movies.dqdl").read_text())

        print(f"{rows:,} typed rows; timing best of 3 after a warm-up ...", flush=True)
        bare = timed(lambda: noop(df))
        seed_run = timed(lambda: rule_outcomes(df, seed))

        def default_with_rows():
            rule_outcomes(df, default)
            noop(add_row_level_results(df, default))

        default_run = timed(default_with_rows)
        gx_run = timed(great_expectations_seed(df))
        # The engine and GX must agree on what they measured.
        ours = {o["Rule"]: o["Outcome"] for o in rule_outcomes(df, seed)}
        theirs = great_expectations_seed(df)()
        agree = [r["success"] for r in theirs.to_json_dict()["results"]] == [
            ours['IsComplete "imdb_rating"'] == "Passed",
            ours['ColumnValues "imdb_rating" between 8.0 and 10.3'] == "Passed",
        ]
    finally:
        spark.stop()

    report = {
        "rows": rows,
        "bare_scan_s": bare["seconds"],
        "seed_ruleset_s": seed_run["seconds"],
        "default_ruleset_rowlevel_s": default_run["seconds"],
        "great_expectations_s": gx_run["seconds"],
        "great_expectations_vs_seed_ruleset": round(gx_run["seconds"] / seed_run["seconds"], 2),
        "default_rowlevel_vs_bare_scan": round(default_run["seconds"] / bare["seconds"], 2),
        "outcomes_agree_with_great_expectations": agree,
        "details": {
            "bare": bare,
            "seed": seed_run,
            "default_rowlevel": default_run,
            "great_expectations": gx_run,
        },
        "targets": {"great_expectations_vs_seed_ruleset": ">= 3", "default_rowlevel_vs_bare_scan": "<= 2"},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'measure':<44}{'seconds':>10}")
    print(f"{'(a) bare scan':<44}{bare['seconds']:>10.2f}")
    print(f"{'(b) engine, seed ruleset':<44}{seed_run['seconds']:>10.2f}")
    print(f"{'(c) engine, default ruleset + row level':<44}{default_run['seconds']:>10.2f}")
    print(f"{'(d) Great Expectations, seed expectations':<44}{gx_run['seconds']:>10.2f}")
    print(f"{'(d)/(b)':<44}{report['great_expectations_vs_seed_ruleset']:>10.2f}   target >= 3")
    print(f"{'(c)/(a)':<44}{report['default_rowlevel_vs_bare_scan']:>10.2f}   target <= 2")
    print(f"outcomes agree with Great Expectations: {agree}\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
