"""The warehouse: the contract the pipeline loads through (contract.py: BatchKey, BatchLoad, the
rows, the Warehouse protocol), the exactly-once load written once (loading.py), its two
implementations (postgres.py locally, redshift.py on AWS), the SQL files in Redshift's dialect
(sql/, sql_files.py, dialect.py for PostgreSQL), the Redshift Data API (data_api.py), the views
and checks (catalog.py), and what a DSN names (targets.py)."""
