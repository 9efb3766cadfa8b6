"""``Job``: Glue's job bookkeeping; here init and commit are recorded."""

from __future__ import annotations

from awsglue import record_call


class Job:
    def __init__(self, glue_context):
        record_call("awsglue.job.Job.__init__", glue_context)
        self._glue_context = glue_context
        self._name = None

    def init(self, job_name, args={}):  # noqa: B006 - Glue's signature
        record_call("awsglue.job.Job.init", job_name, args)
        self._name = job_name

    def commit(self):
        if self._name is None:
            raise RuntimeError("Job.commit() before Job.init()")
        record_call("awsglue.job.Job.commit")
