"""The backfill: historical movie files through the streaming job's per-batch pipeline."""
