"""The demo project's tasks: a package-analysis pipeline that needs no network.

Every task derives its output from its ``node_args`` (and its parents' results) alone, so a run
is deterministic and finishes in milliseconds; failures are planned from the package name or
from flags in ``node_args`` so fallbacks and retries can be shown on purpose. The YAML that
wires them together lives in ``demo_project/flows/``.
"""
