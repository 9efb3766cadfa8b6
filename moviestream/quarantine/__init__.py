"""Working the quarantine: the bad records the pipeline rejected, indexed in the warehouse
(movies.quarantine), listed, shown with their raw fields from S3, dismissed, and (later)
replayed. The S3 bad-records files stay the record of what happened: nothing here rewrites them.
"""
