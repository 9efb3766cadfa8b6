"""The core every layer shares, with no I/O of its own: the record contract (record.py), reading
movie CSV files (csv_source.py), the producer's envelope (envelope.py), the movie key, KPL
de-aggregation and the pure Spark transform of raw Kinesis rows (transform.py), the local Spark
session (spark.py), synthetic movies rows (generate.py), configuration and resource names
(config.py, resources.json), the failure policy (failure.py), metric names (metrics.py),
logging and the test failpoints."""
