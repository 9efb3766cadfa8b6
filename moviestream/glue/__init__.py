"""The AWS Glue jobs' entries: streaming_job.py (Glue's Kinesis source into the per-batch pipeline)
and backfill_job.py (files under raw/ through the same pipeline). The only modules that call
AWS Glue's own library; ``make package`` writes a script for each that calls its ``main()``."""
