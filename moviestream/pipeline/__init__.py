"""The per-batch pipeline both jobs run (the streaming job per micro-batch, the backfill per
chunk): judge every record (judge.py), read the batch out (read_out.py), isolate poison records
(isolation.py), write bad records and rule outcomes to S3, alert (alerts.py), publish metrics
(metrics_publisher.py) and load the warehouse exactly once (batch_pipeline.py), configured by
config.py."""
