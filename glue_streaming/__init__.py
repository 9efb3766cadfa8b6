"""The streaming job: thin entry modules (local, Glue) around the shared per-batch pipeline."""
