"""moviestream: a streaming data pipeline for movie records, Kinesis -> Spark with DQDL data
quality -> Redshift, that also runs on one machine with no AWS account.

The sub-packages are layers; each imports only from the layers below it (docs/ARCHITECTURE.md has
the table, and import-linter's contract in pyproject.toml holds the build to it):

- entries: ``cli`` (the ``moviestream`` command), ``glue`` (the Glue jobs' scripts);
- the local stack: ``devstack``;
- jobs: ``streaming``, ``backfill``, ``producer``;
- the shared per-batch pipeline: ``pipeline``;
- services: ``health``, then ``warehouse`` and ``quality``;
- the core: ``core`` (the record contract, CSV reading, envelope, transform, Spark session, config).

Nothing does I/O at import time.
"""

__version__ = "0.1.0"
