"""Shared test fixtures. ``../shared/examples`` is put on ``sys.path`` so ``example_tasks`` imports."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "examples"
SPEC = SHARED / "spec"

if EXAMPLES.is_dir() and str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

# The worker fixtures (one pool of real Celery workers for the whole session), shared by the
# integration and the browser tests.
pytest_plugins = ["tests.worker_fixtures"]
