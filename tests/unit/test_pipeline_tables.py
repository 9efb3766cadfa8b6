"""The pipeline's driver-side pure functions over the Arrow read-out: counts and staged tables."""

from datetime import UTC, datetime

import pyarrow as pa

from moviestream.pipeline.read_out import (
    DATA_STAGE_COLUMNS,
    BatchStats,
    lag_points,
    split_read_out,
    stage_tables,
)
from moviestream.warehouse.contract import GENRE_COLUMNS, STAGE_COLUMNS, BatchKey, lag_seconds

T0 = datetime(2026, 1, 1, 10, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 11, tzinfo=UTC)


def _read_out(rows):
    names = ("is_duplicate", "is_good", "produced_at", "approximate_arrival_timestamp")
    return pa.table(
        {
            "is_duplicate": pa.array([r[0] for r in rows], pa.bool_()),
            "is_good": pa.array([r[1] for r in rows], pa.bool_()),
            "produced_at": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
            "approximate_arrival_timestamp": pa.array([r[3] for r in rows], pa.timestamp("us", tz="UTC")),
        },
    ).select(list(names))


def test_batch_stats_count_every_record_once_and_times_are_naive_utc():
    stats = BatchStats.of(
        _read_out(
            [
                (False, True, T0, T1),
                (False, False, None, T0),  # bad, no produced_at
                (True, True, T1, T1),  # a re-delivery: counted in, not good
                (False, True, T1, T1),
            ]
        )
    )
    assert (stats.records_in, stats.duplicates, stats.good, stats.bad) == (4, 1, 2, 1)
    assert stats.records_in == stats.duplicates + stats.good + stats.bad
    assert stats.min_produced_at == datetime(2026, 1, 1, 10)  # naive, UTC wall time
    assert stats.max_produced_at == datetime(2026, 1, 1, 11)
    assert (stats.min_arrival_at, stats.max_arrival_at) == (
        datetime(2026, 1, 1, 10),
        datetime(2026, 1, 1, 11),
    )


def test_batch_stats_of_an_empty_batch():
    stats = BatchStats.of(_read_out([]))
    assert stats.records_in == 0 and stats.min_produced_at is None


def _newest(movies):
    columns = {c: pa.array([m.get(c) for m in movies], pa.string()) for c in DATA_STAGE_COLUMNS}
    columns["event_produced_at"] = pa.array([T0 for _ in movies], pa.timestamp("us", tz="UTC"))
    columns["_genre_list"] = pa.array([m["_genre_list"] for m in movies], pa.list_(pa.string()))
    return pa.table(columns)


def test_stage_tables_add_the_batch_columns_and_one_row_per_movie_and_genre():
    started = datetime(2026, 2, 1, 12)
    movies, genres = stage_tables(
        _newest(
            [
                {"movie_id": "b", "_genre_list": ["Drama", "Crime", "Drama"]},
                {"movie_id": "a", "_genre_list": None},
                {"movie_id": "c", "_genre_list": []},
            ]
        ),
        BatchKey("job", "stream", 7),
        started,
    )
    assert movies.column_names == list(STAGE_COLUMNS)
    assert movies["event_produced_at"].type == pa.timestamp("us")  # the warehouse's naive UTC
    assert movies["event_produced_at"].to_pylist() == [datetime(2026, 1, 1, 10)] * 3
    row = movies.slice(0, 1).to_pylist()[0]
    assert (row["first_seen_at"], row["last_updated_at"], row["last_job"], row["last_batch_id"]) == (
        started,
        started,
        "job",
        7,
    )
    assert genres.column_names == list(GENRE_COLUMNS)
    assert genres.to_pylist() == [{"movie_id": "b", "genre": "Crime"}, {"movie_id": "b", "genre": "Drama"}]


def test_stage_tables_of_no_movies_are_empty():
    movies, genres = stage_tables(_newest([]), BatchKey("job", "stream", 0), datetime(2026, 1, 1))
    assert movies.num_rows == 0 and genres.num_rows == 0


def test_split_read_out_leaves_re_deliveries_out_of_both_sides():
    table = _newest(
        [
            {"movie_id": "a", "_genre_list": ["Drama"]},
            {"movie_id": "b", "_genre_list": ["Crime"]},
            {"movie_id": "b", "_genre_list": ["Crime"]},
            {"movie_id": None, "_genre_list": None},
        ]
    )
    table = (
        table.append_column("is_duplicate", pa.array([False, False, True, True]))
        .append_column("is_good", pa.array([True, True, True, False]))
        .append_column("bad_record", pa.array([None, None, None, '{"reasons": []}']))
        .append_column("produced_at", pa.array([T0] * 4, pa.timestamp("us", tz="UTC")))
        .append_column("shard_id", pa.array(["s"] * 4))
        .append_column("sequence_number", pa.array(["1", "2", "3", "4"]))
        .append_column("sub_sequence_number", pa.array([0] * 4, pa.int32()))
    )
    bad_lines, movies, genres = split_read_out(table, BatchKey("job", "stream", 1), datetime(2026, 1, 1))
    assert bad_lines == []  # the only bad record was a re-delivery
    assert movies["movie_id"].to_pylist() == ["a", "b"]
    assert genres.num_rows == 2


def test_lag_points_are_the_median_fifth_percentile_and_oldest_produced_at():
    produced = [datetime(2026, 1, 1, 10, 0, s, tzinfo=UTC) for s in range(20)] + [None]
    table = _read_out([(False, True, p, T1) for p in produced])
    points = lag_points(table)
    # 20 times 0..19 s: "lower" quantiles pick real records' times (p50 -> 9 s, p05 -> 0 s)
    assert points == {
        "lag_p50_s": datetime(2026, 1, 1, 10, 0, 9),
        "lag_p95_s": datetime(2026, 1, 1, 10, 0, 0),
        "lag_max_s": datetime(2026, 1, 1, 10, 0, 0),
    }
    committed = datetime(2026, 1, 1, 10, 0, 30)
    assert lag_seconds(committed, points) == {"lag_p50_s": 21.0, "lag_p95_s": 30.0, "lag_max_s": 30.0}


def test_lag_points_of_records_without_produced_at():
    assert lag_points(_read_out([(False, False, None, T0)])) == {}
