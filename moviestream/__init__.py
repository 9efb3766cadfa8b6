"""moviestream's shared core: record contract, movie key, typing, DQDL engine, config.

Nothing here does I/O at import time, and nothing here imports the deployable folders
(producer/, glue_streaming/, batch_backfill/, redshift/, devstack/).
"""

__version__ = "0.1.0"
