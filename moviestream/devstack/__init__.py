"""The local stack (``moviestream stack``): LocalStack and a PostgreSQL standing in for Redshift,
started on this machine with no AWS account (stack.py); their resources (bootstrap.py); the
streaming job as a child process (jobs.py); and the end-to-end demo (demo.py)."""
