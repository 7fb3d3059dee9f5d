"""Run the imports uploaded over HTTP.

The upload is queued in the database; this job, in the scheduler process, claims each
waiting import with a compare-and-set update (so two schedulers never run the same one)
and runs it chunk by chunk. An import left running by a scheduler that died is taken
over once its worker is gone, and resumes after its last committed chunk.
"""

from __future__ import annotations

from connector.bulk.runner import run_queued_imports
from connector.db import Database

# Uploads should start promptly; finding none is one indexed query.
IMPORT_INTERVAL_SECONDS = 5


def run_imports(db: Database) -> int:
    """Run every waiting import; how many ran."""
    return run_queued_imports(db)
