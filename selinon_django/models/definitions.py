"""Configuration revisions: every load of Selinon YAML kept, immutable, in the database.

The revision's ``normalised`` JSON is the source of truth (it rebuilds the
:class:`~selinon_django.config.model.SystemConfig` a run executes). The task, storage, flow, edge
and failure rows are a queryable projection of it for the admin and reports; they are written
once, with the revision, and never change.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from selinon_django.config.load import config_from_normalised
from selinon_django.config.model import SourceFile
from selinon_django.models.immutable import ImmutableModel
from selinon_django.origins import trust_for

if TYPE_CHECKING:
    from selinon_django.config.model import SystemConfig


class ConfigRevisionQuerySet(models.QuerySet["ConfigRevision"]):
    def current(self) -> ConfigRevision | None:
        """The newest revision (the one new runs start on), or None before the first load.

        Its ``normalised`` configuration is read only when used: every ``run_flow`` asks for the
        current revision, and decoding the whole configuration was the costliest part of starting
        a flow whose configuration the process had already built (:meth:`system_config` caches it).
        """
        return self.order_by("-number").defer("normalised").first()

    def by_number(self, number: int) -> ConfigRevision:
        return self.get(number=number)


ConfigRevisionManager = models.Manager.from_queryset(ConfigRevisionQuerySet)

# Revisions never change, so a rebuilt SystemConfig can be reused for the life of the process.
# The key includes the hash because a test database may hand out the same id twice.
_CONFIG_CACHE: OrderedDict[tuple[int, str], SystemConfig] = OrderedDict()
_CONFIG_CACHE_SIZE = 32
_CONFIG_CACHE_LOCK = threading.Lock()


def clear_system_config_cache() -> None:
    with _CONFIG_CACHE_LOCK:
        _CONFIG_CACHE.clear()


class ConfigRevision(ImmutableModel):
    """One loaded configuration. Numbers grow by one per load; the newest is current."""

    number = models.PositiveIntegerField(unique=True, editable=False)
    #: sha256 of the normalised configuration; not unique, because loading an older content
    #: again after a newer one makes it current again as a new revision
    content_hash = models.CharField(max_length=64, db_index=True, editable=False)
    normalised = models.JSONField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    #: who loaded it when there is no Django user (the OS user of a management command)
    created_by_name = models.CharField(max_length=150, blank=True, default="")
    comment = models.TextField(blank=True, default="")
    #: where the configuration came from, which decides what it may reach (see
    #: :mod:`selinon_django.origins`): a command's files are trusted, an upload is not
    origin = models.CharField(
        max_length=8, choices=[("command", "command"), ("upload", "upload")], default="command", editable=False
    )

    objects = ConfigRevisionManager()

    class Meta:
        ordering = ("-number",)
        get_latest_by = "number"
        verbose_name = "configuration revision"

    def __str__(self) -> str:
        return f"revision {self.number} ({self.content_hash[:12]})"

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]

    def system_config(self) -> SystemConfig:
        """The configuration this revision holds (rebuilt once per process, then cached)."""
        key = (self.pk, self.content_hash)
        with _CONFIG_CACHE_LOCK:
            cached = _CONFIG_CACHE.get(key)
            if cached is not None:
                _CONFIG_CACHE.move_to_end(key)
                return cached
        config = config_from_normalised(self.normalised, trust=trust_for(self.origin))
        if self.pk is not None:
            sources = tuple(
                SourceFile(path=source.path, role=source.role, text=source.text)  # type: ignore[arg-type]
                for source in self.sources.order_by("order")
            )
            config = dataclasses.replace(config, sources=sources)
            with _CONFIG_CACHE_LOCK:
                _CONFIG_CACHE[key] = config
                while len(_CONFIG_CACHE) > _CONFIG_CACHE_SIZE:
                    _CONFIG_CACHE.popitem(last=False)
        return config


class ConfigSource(ImmutableModel):
    """A YAML file as it was loaded (the text, so a revision can be read back as written)."""

    class Role(models.TextChoices):
        NODES = "nodes", "nodes"
        FLOWS = "flows", "flows"
        SCHEMA = "schema", "output schema"

    revision = models.ForeignKey(ConfigRevision, on_delete=models.CASCADE, related_name="sources")
    order = models.PositiveIntegerField()
    path = models.CharField(max_length=1024)
    role = models.CharField(max_length=8, choices=Role.choices)
    text = models.TextField()

    class Meta:
        ordering = ("revision", "order")
        constraints = [models.UniqueConstraint(fields=("revision", "order"), name="selinon_source_order_unique")]

    def __str__(self) -> str:
        return f"{self.role}: {self.path}"


class TaskDefinition(ImmutableModel):
    revision = models.ForeignKey(ConfigRevision, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=255)
    module = models.CharField(max_length=255)
    classname = models.CharField(max_length=255)
    #: the queue as written (``{VAR}`` placeholders kept); empty: the global default
    queue = models.CharField(max_length=255, blank=True, default="")
    storage = models.CharField(max_length=255, blank=True, default="")
    max_retry = models.PositiveIntegerField(default=0)
    #: every other option of the task, as JSON
    options = models.JSONField(default=dict)

    class Meta:
        ordering = ("revision", "name")
        constraints = [models.UniqueConstraint(fields=("revision", "name"), name="selinon_task_name_unique")]

    def __str__(self) -> str:
        return self.name


class StorageDefinition(ImmutableModel):
    revision = models.ForeignKey(ConfigRevision, on_delete=models.CASCADE, related_name="storages")
    name = models.CharField(max_length=255)
    module = models.CharField(max_length=255)
    classname = models.CharField(max_length=255)
    #: as written (placeholders kept: expanded values may be secrets)
    configuration = models.JSONField(default=dict)
    cache = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("revision", "name")
        constraints = [models.UniqueConstraint(fields=("revision", "name"), name="selinon_storage_name_unique")]

    def __str__(self) -> str:
        return self.name


class FlowDefinition(ImmutableModel):
    revision = models.ForeignKey(ConfigRevision, on_delete=models.CASCADE, related_name="flows")
    name = models.CharField(max_length=255)
    #: dispatcher queue as written; empty: the global default
    queue = models.CharField(max_length=255, blank=True, default="")
    #: flags and settings of the flow (propagate_*, nowait, sampling, throttling...), as JSON
    options = models.JSONField(default=dict)

    class Meta:
        ordering = ("revision", "name")
        constraints = [models.UniqueConstraint(fields=("revision", "name"), name="selinon_flow_name_unique")]

    def __str__(self) -> str:
        return self.name


class EdgeDefinition(ImmutableModel):
    """An edge; ``index`` is its position in the flow's edge list, its identity in run states."""

    flow = models.ForeignKey(FlowDefinition, on_delete=models.CASCADE, related_name="edges")
    index = models.PositiveIntegerField()
    from_nodes = models.JSONField(default=list)
    to_nodes = models.JSONField(default=list)
    condition = models.JSONField(null=True, blank=True)
    foreach = models.JSONField(null=True, blank=True)
    selective = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("flow", "index")
        constraints = [models.UniqueConstraint(fields=("flow", "index"), name="selinon_edge_index_unique")]

    def __str__(self) -> str:
        return f"{self.flow.name}[{self.index}]: {self.from_nodes} -> {self.to_nodes}"


class FailureDefinition(ImmutableModel):
    flow = models.ForeignKey(FlowDefinition, on_delete=models.CASCADE, related_name="failures")
    index = models.PositiveIntegerField()
    nodes = models.JSONField(default=list)
    #: a list of node names, or ``true`` (recover without running anything)
    fallback = models.JSONField()
    condition = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("flow", "index")
        constraints = [models.UniqueConstraint(fields=("flow", "index"), name="selinon_failure_index_unique")]

    def __str__(self) -> str:
        return f"{self.flow.name} failure {self.index}: {self.nodes} -> {self.fallback}"
