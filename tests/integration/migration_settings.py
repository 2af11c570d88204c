"""Settings of the migration test's own workers: the demo settings, with ``mig_flow`` migrated.

A worker's ``MIGRATION_POLICY`` is read from its settings; the shared test workers keep the
default (pin), so the migration test starts its own workers on its own queues with this module.
"""
from demo_project.settings import *  # noqa: F403
from demo_project.settings import SELINON_DJANGO as _DEMO

SELINON_DJANGO = {**_DEMO, "MIGRATION_POLICY": {"*": "pin", "mig_flow": "migrate"}}
