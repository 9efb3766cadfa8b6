"""The streaming job on a local Spark (``moviestream job``): Kinesis as a Spark 4 Python data
source (kinesis_source.py) into the per-batch pipeline (local_job.py). On AWS the Glue entry
(moviestream/glue/streaming_job.py) reads Kinesis with Glue's own source instead."""
