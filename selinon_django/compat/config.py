"""Selinon's ``Config``: the calls Selinon entry points make, and what each one means here.

In Selinon a worker's entry point configures the process: ``Config.set_celery_app(app)`` and
``Config.set_config_yaml(nodes, flows)`` compile the YAML into the process's dispatcher tables.
Here the configuration lives in the database as revisions (``manage.py selinon_load``), every run
is pinned to one, and every worker reads it from there; a worker process never decides the
configuration on its own, or two deployments of different code could each make "their" YAML
current in turn. So these calls keep existing entry points running, and say so when they are out
of step:

- ``set_config_yaml`` / ``set_config_dict`` load the YAML (an invalid configuration raises
  :class:`~selinon_django.errors.ConfigurationError`, as in Selinon) and compare it with the
  current revision once Django is set up: equal is silent, different or missing is a warning
  naming the ``selinon_load`` command that would load it. They never load a revision.
- ``set_celery_app`` records the app (``Config.celery_app``); messages go through the project's
  Celery app (``SELINON_DJANGO["CELERY_APP"]`` or Celery's current app).
- ``trace_by_func``, ``trace_by_logging``, ``trace_by_json``, ``trace_by_sentry`` add the tracer to
  every flow of the process, as ``global.trace`` in YAML would.
- ``set_config_py`` is refused: configuration never becomes generated code that is executed.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import yaml
from django.apps import apps

from selinon_django.config import SourceFile, SystemConfig, content_hash, load_config, load_config_from_sources
from selinon_django.config.model import TraceEntry
from selinon_django.trace.tracer import FunctionBackend, JsonBackend, LoggingBackend, add_process_backend, build_backend

__all__ = ["Config"]

logger = logging.getLogger(__name__)

PathLike = str | Path


def _paths(value: PathLike | Sequence[PathLike]) -> list[str]:
    return [str(value)] if isinstance(value, (str, Path)) else [str(item) for item in value]


class Config:
    """Selinon's configuration entry points; see the module docstring for what each one does."""

    #: the app given to :meth:`set_celery_app` (recorded only)
    celery_app: ClassVar[Any] = None
    #: True once a configuration was given (and parsed)
    initialized: ClassVar[bool] = False
    #: the files of the last :meth:`set_config_yaml`, and the content hash of what was given
    nodes_definition_file: ClassVar[str | None] = None
    flow_definition_files: ClassVar[tuple[str, ...]] = ()
    content_hash: ClassVar[str | None] = None

    # --- Celery ------------------------------------------------------------------------------

    @classmethod
    def set_celery_app(cls, celery_app: Any) -> None:
        """Record ``celery_app``; the runtime publishes with the project's Celery app."""
        cls.celery_app = celery_app
        logger.debug("Config.set_celery_app(%r) recorded; selinon_django publishes with the project's Celery app",
                     celery_app)

    # --- configuration -----------------------------------------------------------------------

    @classmethod
    def set_config_yaml(
        cls,
        nodes_definition_file: PathLike,
        flow_definition_files: PathLike | Sequence[PathLike],
        config_py: str | None = None,
        keep_config_py: bool = False,
    ) -> None:
        """Load the YAML files (raising on errors) and compare them with the current revision."""
        flows = _paths(flow_definition_files)
        config = load_config([str(nodes_definition_file)], flows)
        cls.nodes_definition_file, cls.flow_definition_files = str(nodes_definition_file), tuple(flows)
        command = " ".join(["manage.py selinon_load", "-n", str(nodes_definition_file), *(f"-f {f}" for f in flows)])
        cls._given(config, command)

    @classmethod
    def set_config_dict(
        cls, nodes_definition: Mapping[str, Any], flow_definitions: Sequence[Mapping[str, Any]]
    ) -> None:
        """As :meth:`set_config_yaml`, from the parsed YAML documents."""
        sources = [SourceFile(path="<nodes_definition>", role="nodes", text=yaml.safe_dump(dict(nodes_definition)))]
        sources += [
            SourceFile(path=f"<flow_definitions[{index}]>", role="flows", text=yaml.safe_dump(dict(document)))
            for index, document in enumerate(flow_definitions)
        ]
        cls.nodes_definition_file, cls.flow_definition_files = None, ()
        cls._given(load_config_from_sources(sources), "manage.py selinon_load with these documents as files")

    @classmethod
    def init(
        cls,
        celery_app: Any,
        nodes_definition_file: PathLike,
        flow_definition_files: PathLike | Sequence[PathLike],
        config_py: str | None = None,
        keep_config_py: bool = False,
    ) -> None:
        """Selinon's one-call set-up: :meth:`set_celery_app` and :meth:`set_config_yaml`."""
        cls.set_celery_app(celery_app)
        cls.set_config_yaml(nodes_definition_file, flow_definition_files)

    @classmethod
    def set_config_py(cls, config_code: str) -> None:
        """Refused: Selinon executed generated Python; here a configuration is data, never code."""
        raise NotImplementedError(
            "Config.set_config_py is not supported: selinon_django never executes configuration code; "
            "load the YAML with `manage.py selinon_load`"
        )

    @classmethod
    def _given(cls, config: SystemConfig, command: str) -> None:
        cls.content_hash = content_hash(config)
        cls.initialized = True
        if apps.ready:
            cls.check_loaded(command)
        else:
            logger.debug("Config: Django is not set up yet; the configuration given is not compared with the "
                         "loaded revision (call Config.check_loaded() later to compare)")

    @classmethod
    def check_loaded(cls, command: str = "manage.py selinon_load") -> bool | None:
        """Whether the configuration last given is the current revision; None when nothing was
        given or the database cannot tell. A difference is logged as a warning naming ``command``."""
        if cls.content_hash is None:
            return None
        revision_model = apps.get_model("selinon_django", "ConfigRevision")
        try:
            revision = revision_model.objects.current()
        except Exception as error:  # the database is not reachable yet: not this call's failure
            logger.warning("Config: cannot compare the configuration with the loaded revision: %s", error)
            return None
        if revision is None:
            logger.warning("Config: no configuration revision is loaded; flows run only after `%s`", command)
            return False
        if revision.content_hash != cls.content_hash:
            logger.warning(
                "Config: the configuration given differs from the current revision %s, which is what flows run "
                "on; to run the given one: `%s`", revision.number, command,
            )
            return False
        return True

    # --- tracing -----------------------------------------------------------------------------

    @classmethod
    def trace_by_func(cls, trace_func: Callable[[int, dict[str, Any]], Any]) -> None:
        """Call ``trace_func(event, details)`` for every trace event of this process."""
        add_process_backend(FunctionBackend(trace_func))

    @classmethod
    def trace_by_logging(cls) -> None:
        """Log every trace event of this process (logger ``selinon_django.trace``)."""
        add_process_backend(LoggingBackend())

    @classmethod
    def trace_by_json(cls) -> None:
        """Print every trace event of this process as one JSON document per line."""
        add_process_backend(JsonBackend())

    @classmethod
    def trace_by_sentry(cls, dsn: str | None = None) -> None:
        """Report task failures of this process to Sentry (needs sentry-sdk)."""
        backend = build_backend(TraceEntry(kind="sentry", options={"dsn": dsn} if dsn else {}))
        if backend is not None:
            add_process_backend(backend)
