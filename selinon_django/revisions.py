"""Loading a configuration into the database as a new immutable revision.

The whole revision (the row, its source files and its definition rows) is written in one
transaction, so a failure half-way leaves nothing behind. Loading the content of the current
revision again creates nothing: a revision means "the configuration changed".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from django.db import IntegrityError, transaction

from selinon_django.config import content_hash, load_config_from_sources, normalise
from selinon_django.config.model import (
    Edge,
    Failure,
    Flow,
    NodeSelector,
    SourceFile,
    Storage,
    SystemConfig,
    Task,
    thaw,
)
from selinon_django.config.normalise import condition_data
from selinon_django.config.trust import Origin
from selinon_django.errors import SelinonDjangoError
from selinon_django.models import (
    ConfigRevision,
    ConfigSource,
    EdgeDefinition,
    FailureDefinition,
    FlowDefinition,
    StorageDefinition,
    TaskDefinition,
)
from selinon_django.origins import trust_for
from selinon_django.scheduling import sync_schedules

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

logger = logging.getLogger(__name__)

#: two loads racing for the same revision number: the loser retries with the next number
_NUMBER_ATTEMPTS = 5


class NoRevisionError(SelinonDjangoError):
    """No configuration has been loaded yet (or the asked-for revision does not exist)."""


def current_revision() -> ConfigRevision:
    """The newest revision; :class:`NoRevisionError` before the first load."""
    revision = ConfigRevision.objects.current()
    if revision is None:
        raise NoRevisionError("no configuration revision is loaded yet (run manage.py selinon_load)")
    return revision


def get_revision(number: int | None = None) -> ConfigRevision:
    """Revision ``number``, or the current one when ``number`` is None."""
    if number is None:
        return current_revision()
    try:
        return ConfigRevision.objects.get(number=number)
    except ConfigRevision.DoesNotExist:
        newest = ConfigRevision.objects.current()
        known = f"revisions are 1..{newest.number}" if newest else "no revision is loaded yet"
        raise NoRevisionError(f"configuration revision {number} does not exist ({known})") from None


def load_revision(
    config: SystemConfig,
    *,
    created_by: AbstractBaseUser | None = None,
    created_by_name: str | None = None,
    comment: str = "",
    dry_run: bool = False,
    origin: Origin = "command",
) -> tuple[ConfigRevision, bool]:
    """Store ``config`` as a new revision; returns ``(revision, created)``.

    ``created`` is False when the content equals the current revision's (that revision is
    returned and nothing is written), except when a command loads the content of an upload.
    With ``dry_run`` nothing is written either: the returned revision is the unsaved row that
    would have been created. ``origin`` must say
    how ``config`` was loaded: the revision is rebuilt with that origin's trust wherever it runs.
    """
    normalised = normalise(config)
    digest = content_hash(config)
    if created_by_name is None:
        created_by_name = created_by.get_username() if created_by is not None else ""
    for attempt in range(1, _NUMBER_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                # On PostgreSQL this serialises concurrent loads behind the newest row.
                newest = ConfigRevision.objects.select_for_update().order_by("-number").first()
                # The same content again is no new revision, unless a command loads what was
                # uploaded: the command's revision is trusted with more (full environment).
                if newest is not None and newest.content_hash == digest and origin in (newest.origin, "upload"):
                    return newest, False
                revision = ConfigRevision(
                    number=(newest.number if newest is not None else 0) + 1,
                    content_hash=digest,
                    normalised=normalised,
                    # AUTH_USER_MODEL may be any user model; the stubs only know auth.User.
                    created_by=cast(Any, created_by),
                    created_by_name=created_by_name[:150],
                    comment=comment,
                    origin=origin,
                )
                if dry_run:
                    return revision, True
                revision.save()
                _write_definition_rows(revision, config)
                if origin == "command":
                    # beat's table follows the configuration (uploads cannot declare schedules)
                    sync_schedules(config, revision.number)
                return revision, True
        except IntegrityError:
            if attempt == _NUMBER_ATTEMPTS:
                raise
            logger.info("revision number taken by a concurrent load; retrying (attempt %d)", attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def load_upload(
    sources: list[SourceFile],
    *,
    created_by: AbstractBaseUser | None,
    comment: str = "",
    dry_run: bool = False,
) -> tuple[ConfigRevision, bool]:
    """Load an uploaded configuration (admin page, REST API) as a revision of origin ``upload``.

    The one entry point for uploads: the configuration is loaded with the upload trust (allowed
    modules, allowed environment variables, schema files only from the upload), so every check
    of :mod:`selinon_django.config.trust` applies and a refused upload writes nothing.
    Raises :class:`~selinon_django.errors.ConfigurationError` listing every problem.
    """
    config = load_config_from_sources(sources, trust=trust_for("upload"))
    return load_revision(config, created_by=created_by, comment=comment, dry_run=dry_run, origin="upload")


def _write_definition_rows(revision: ConfigRevision, config: SystemConfig) -> None:
    ConfigSource.objects.bulk_create(
        ConfigSource(revision=revision, order=order, path=source.path, role=source.role, text=source.text)
        for order, source in enumerate(config.sources)
    )
    TaskDefinition.objects.bulk_create(_task_row(revision, task) for task in config.tasks.values())
    StorageDefinition.objects.bulk_create(_storage_row(revision, storage) for storage in config.storages.values())
    for flow in config.flows.values():
        flow_row = FlowDefinition(
            revision=revision,
            name=flow.name,
            queue=flow.queue_template or flow.queue or "",
            options=_flow_options(flow),
        )
        flow_row.save()
        EdgeDefinition.objects.bulk_create(_edge_row(flow_row, edge) for edge in flow.edges)
        FailureDefinition.objects.bulk_create(
            _failure_row(flow_row, index, failure) for index, failure in enumerate(flow.failures)
        )


def _task_row(revision: ConfigRevision, task: Task) -> TaskDefinition:
    options: dict[str, Any] = {
        "retry_countdown": task.retry_countdown,
        "output_schema": task.output_schema,
        "storage_read_only": task.storage_read_only,
        "storage_task_name": task.storage_task_name,
        "selective_run_function": task.selective_run_function.dotted if task.selective_run_function else None,
        "throttling": task.throttling,
        "time_limit": task.time_limit,
        "soft_time_limit": task.soft_time_limit,
        "rate_limit": task.rate_limit,
        "priority": task.priority,
    }
    return TaskDefinition(
        revision=revision,
        name=task.name,
        module=task.module,
        classname=task.classname,
        queue=task.queue_template or task.queue or "",
        storage=task.storage or "",
        max_retry=task.max_retry,
        options={key: value for key, value in options.items() if value not in (None, False)},
    )


def _storage_row(revision: ConfigRevision, storage: Storage) -> StorageDefinition:
    # The template, not the expanded values: an expanded configuration may hold secrets.
    configuration = storage.configuration_template or storage.configuration
    cache = None
    if storage.cache is not None:
        cache = {
            "name": storage.cache.name,
            "import": storage.cache.module,
            "configuration": thaw(storage.cache.configuration),
        }
    return StorageDefinition(
        revision=revision,
        name=storage.name,
        module=storage.module,
        classname=storage.classname,
        configuration=thaw(configuration),
        cache=cache,
    )


def _selector_json(selector: NodeSelector) -> bool | list[str]:
    return selector if isinstance(selector, bool) else sorted(selector)


def _flow_options(flow: Flow) -> dict[str, Any]:
    options: dict[str, Any] = {
        "propagate_parent": _selector_json(flow.propagate_parent),
        "propagate_finished": _selector_json(flow.propagate_finished),
        "propagate_compound_finished": _selector_json(flow.propagate_compound_finished),
        "propagate_node_args": _selector_json(flow.propagate_node_args),
        "node_args_from_first": flow.node_args_from_first,
        "nowait": sorted(flow.nowait),
        "eager_failures": _selector_json(flow.eager_failures),
        "max_retry": flow.max_retry,
        "retry_countdown": flow.retry_countdown,
        "throttling": flow.throttling,
    }
    if not flow.sampling.default:
        options["sampling"] = {
            "name": flow.sampling.name,
            "import": flow.sampling.module,
            "args": thaw(flow.sampling.args),
        }
    if flow.cache is not None:
        options["cache"] = {
            "name": flow.cache.name,
            "import": flow.cache.module,
            "configuration": thaw(flow.cache.configuration),
        }
    return {key: value for key, value in options.items() if value not in (None, False, [], 0)}


def _edge_row(flow_row: FlowDefinition, edge: Edge) -> EdgeDefinition:
    foreach: Mapping[str, Any] | None = None
    if edge.foreach is not None:
        foreach = {
            "function": edge.foreach.function.name,
            "import": edge.foreach.function.module,
            "propagate_result": edge.foreach.propagate_result,
        }
    selective: Mapping[str, Any] | None = None
    if edge.selective is not None:
        selective = {
            "tasks": list(edge.selective.tasks),
            "follow_subflows": edge.selective.follow_subflows,
            "run_subsequent": edge.selective.run_subsequent,
        }
    return EdgeDefinition(
        flow=flow_row,
        index=edge.index,
        from_nodes=list(edge.from_),
        to_nodes=list(edge.to),
        condition=None if edge.condition_default else condition_data(edge.condition),
        foreach=foreach,
        selective=selective,
    )


def _failure_row(flow_row: FlowDefinition, index: int, failure: Failure) -> FailureDefinition:
    return FailureDefinition(
        flow=flow_row,
        index=index,
        nodes=list(failure.nodes_order or sorted(failure.nodes)),
        fallback=True if failure.fallback is True else list(failure.fallback),
        condition=None if failure.condition_default else condition_data(failure.condition),
    )
