"""Settings of the demo project.

Everything that differs between a laptop and a deployment comes from the environment:
``DATABASE_URL`` (default: a SQLite file under ``var/`` in the checkout) and
``CELERY_BROKER_URL`` (default: kombu's filesystem transport under ``var/``, so the demo
needs no server).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url

from demo_project.secret_key import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SELINON_DJANGO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# The demo flows name their queues '{DEMO_QUEUE_PREFIX}_tasks' etc. (environment expansion,
# as a deployment would use it); the demo runs with the prefix "demo" unless told otherwise.
os.environ.setdefault("DEMO_QUEUE_PREFIX", "demo")

# No fixed key: DJANGO_SECRET_KEY, else a random key made once and kept in VAR_DIR/secret_key
# (mode 0600), which the web process, the workers and restarts share.
SECRET_KEY = secret_key(os.environ, VAR_DIR)
# Off unless asked for: a debug page shows settings (the broker URL with its password) and code
# to anyone whose request fails. scripts/demo.sh serves the admin with `runserver --insecure`.
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
# comma-separated; the default serves the demo on this machine only
_hosts = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
ALLOWED_HOSTS = [host.strip() for host in _hosts.split(",") if host.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_results",
    "django_celery_beat",  # scheduled flows (the YAML's schedules:, beat's admin)
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",  # the REST API's filter forms in the browsable API
    "selinon_django",
    "demo_project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "demo_project.wsgi.application"

# Connections are kept for 10 minutes (DATABASE_CONN_MAX_AGE): with CELERY_DB_REUSE_MAX below, a
# worker reuses its connection across tasks instead of opening one per task (check W006).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'demo.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Workers and the web process share the file: wait for locks instead of failing, and take
    # the write lock when a transaction starts so a dispatcher step never fails half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3 binds parameters on the server and prepares the statements a connection runs
    # often: each hop of a flow sends the same few statements, so they are parsed and planned once
    # per connection (planning the claim took 0.5 ms, three times its execution). Django leaves
    # prepare_threshold unset (None: never prepare) unless OPTIONS names it; psycopg's default is 5.
    # DATABASE_SERVER_SIDE_BINDING=0 turns both off (a transaction-pooling PgBouncer before 1.21).
    _server_side = os.environ.get("DATABASE_SERVER_SIDE_BINDING", "1") == "1"
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = _server_side
    if _server_side:
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = int(os.environ.get("DATABASE_PREPARE_THRESHOLD", "5"))
# extra driver options as JSON (merged last)
DATABASES["default"].setdefault("OPTIONS", {}).update(json.loads(os.environ.get("DATABASE_OPTIONS", "{}")))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Celery: the broker comes from the environment; the default needs no server.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        # broadcast (control) exchanges, which kombu would otherwise put under ./control
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Extra broker transport options as JSON (the integration tests shorten Redis' visibility timeout).
CELERY_BROKER_TRANSPORT_OPTIONS.update(json.loads(os.environ.get("SELINON_BROKER_TRANSPORT_OPTIONS", "{}")))
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "django-db")
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Celery's Django fixup closes the database connections around every task unless this is set:
# with it, CONN_MAX_AGE (DATABASE_CONN_MAX_AGE) decides, as in a web process (a new PostgreSQL
# connection per task costs more than the whole hop of a no-op task).
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "1000"))

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SELINON_DJANGO = {
    # Python modules that YAML may name in `import:` keys.
    "IMPORT_PREFIXES": ["demo_project.", "selinon_django.", "example_tasks"],
    "NODES_DEFINITION": os.environ.get(
        "SELINON_NODES_DEFINITION", str(BASE_DIR / "demo_project" / "flows" / "nodes.yaml")
    ),
    "FLOW_DEFINITIONS": os.environ.get("SELINON_FLOW_DEFINITIONS", str(BASE_DIR / "demo_project" / "flows" / "flows")),
    # The Celery runtime's timings (the integration tests shorten them through the environment).
    "INLINE_STEPS": os.environ.get("SELINON_INLINE_STEPS", "1") == "1",
    "RUN_SUCCESSORS_INLINE": os.environ.get("SELINON_RUN_SUCCESSORS_INLINE", "1") == "1",
    "TASKS_PER_MESSAGE": int(os.environ.get("SELINON_TASKS_PER_MESSAGE", "16")),
    "SWEEP_INTERVAL": float(os.environ.get("SELINON_SWEEP_INTERVAL", "2")),
    "SWEEP_GRACE": float(os.environ.get("SELINON_SWEEP_GRACE", "5")),
    "LOST_TASK_AFTER": float(os.environ.get("SELINON_LOST_TASK_AFTER", "300")),
    "TRACE_DATABASE": os.environ.get("SELINON_TRACE_DATABASE", "1") == "1",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
