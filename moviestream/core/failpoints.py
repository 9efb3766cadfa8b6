"""Named crash points for the exactly-once tests: ``MOVIESTREAM_FAILPOINT=<name>@<batch id>``
makes the process kill itself with SIGKILL when it reaches that point in that batch, the way a
lost node or an OOM kill would end it: no cleanup, no finally blocks, no flushing.

Points: ``after_s3`` (bad records and rule outcomes written), ``in_transaction`` (warehouse
MERGE and ledger done, not committed), ``after_commit`` (committed, Spark's checkpoint not yet).
Unset, a failpoint costs one dictionary lookup.

``MOVIESTREAM_POISON=<text>`` makes judging raise for every user record whose payload holds that
text, as an undiscovered bug would (moviestream/core/transform.py checks it once per Arrow batch): the
pipeline's poison isolation must then bisect the batch down to those records.
"""

from __future__ import annotations

import os
import signal
import sys

ENV = "MOVIESTREAM_FAILPOINT"


def failpoint(name: str, batch_id: int) -> None:
    if os.environ.get(ENV) == f"{name}@{batch_id}":
        sys.stderr.write(f'{{"event": "failpoint_reached", "failpoint": "{name}", "batch_id": {batch_id}}}\n')
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


POISON_ENV = "MOVIESTREAM_POISON"


def poison_marker() -> bytes | None:
    """The payload text that makes judging raise (tests only), or None."""
    marker = os.environ.get(POISON_ENV)
    return marker.encode() if marker else None


def poisoned(payload: bytes | None, marker: bytes | None) -> None:
    if marker is not None and payload is not None and marker in payload:
        raise RuntimeError(f"failpoint {POISON_ENV}: judging this record raises")
