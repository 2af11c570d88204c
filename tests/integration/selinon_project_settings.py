"""The demo project's settings plus what the moved Selinon worker needs: its predicates module
is trusted as a whole (its functions are Selinon-style undecorated predicates), and its modules
may be named by uploaded configurations too."""
from demo_project.settings import *  # noqa: F403
from demo_project.settings import SELINON_DJANGO as _DEMO

SELINON_DJANGO = {
    **_DEMO,
    "IMPORT_PREFIXES": [*_DEMO["IMPORT_PREFIXES"], "urlworker"],
    "PREDICATES_MODULES": ["urlworker.predicates"],
}

# The worker's package as an app: Celery's autodiscovery (demo_project/celery.py) then imports
# urlworker.tasks when a worker starts, the path the README tells Selinon teams about.
INSTALLED_APPS = [*INSTALLED_APPS, "urlworker"]  # noqa: F405
