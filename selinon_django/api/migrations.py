"""Flow migrations over the API: the stored ``N.json`` versions, read-only.

Migrations are written by ``manage.py selinon_migrate`` and never change, so the API only lists
and shows them. A migration generated from YAML files before their configurations were loaded
has no revision foreign keys, only content hashes; the runtime links it to revisions by hash
when it applies it (:meth:`~selinon_django.engine.migration_plan.StoredMigration.link`), and these
views show and filter by the same link, found for a whole page in one query.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from selinon_django.api.filters import MAX_INT, IntegerFilter
from selinon_django.api.permissions import VIEW_MIGRATIONS
from selinon_django.api.views import SelinonAPIView
from selinon_django.config.model import thaw
from selinon_django.engine.migration_plan import RevisionRef, StoredMigration
from selinon_django.models import FlowMigrationRecord
from selinon_django.models.migrations import link_by_hash, revisions_by_hash
from selinon_django.payloads import PayloadError, parse_bounded_int
from selinon_django.runtime.migrating import policy_for

# --- linking by content hash -------------------------------------------------------------------


class RevisionLinks:
    """The revisions of a page of migration rows, linked by content hash where they name none."""

    def __init__(self, records: Iterable[FlowMigrationRecord]) -> None:
        self.by_version: dict[int, StoredMigration] = {
            stored.version: stored for stored in link_by_hash([record.stored() for record in records])
        }

    def _number(self, record: FlowMigrationRecord, side: str) -> int | None:
        stored = self.by_version.get(record.version)
        revision: RevisionRef | None = getattr(stored, f"{side}_revision", None)
        return revision.number if revision is not None else None

    def from_number(self, record: FlowMigrationRecord) -> int | None:
        return self._number(record, "from")

    def to_number(self, record: FlowMigrationRecord) -> int | None:
        return self._number(record, "to")


def flow_changes(record: FlowMigrationRecord) -> list[dict[str, Any]]:
    """Per flow of a migration: edge translation, tainted edges, tainting nodes and the policy.

    Read through the engine's :class:`~selinon_django.engine.migrations.Migration`, so what is
    shown is what the runtime applies, not whatever shape the stored JSON happens to have.
    """
    migration = record.migration()
    return [
        {
            "flow": name,
            "policy": policy_for(name),
            "translation": [{"old_edge": old, "new_edge": new} for old, new in sorted(flow.translation.items())],
            "tainted_edges": [
                {"edge": index, "from_nodes": list(edge.from_), "to_nodes": list(edge.to),
                 "condition": thaw(edge.condition)}
                for index, edge in sorted(flow.tainted_edges.items())
            ],
            "tainting_nodes": [
                {"edge": index, "nodes": list(nodes)} for index, nodes in sorted(flow.tainting_nodes.items())
            ],
        }
        for name, flow in sorted(migration.flows.items())
    ]


# --- serializers -------------------------------------------------------------------------------


class EdgeTranslationSerializer(serializers.Serializer[dict[str, Any]]):
    old_edge = serializers.IntegerField(help_text="Edge index in the old graph.")
    new_edge = serializers.IntegerField(allow_null=True, help_text="Its index in the new graph (null: dropped).")


class TaintedEdgeSerializer(serializers.Serializer[dict[str, Any]]):
    edge = serializers.IntegerField(help_text="Old edge index; a run that already fired it is tainted.")
    from_nodes = serializers.ListField(child=serializers.CharField())
    to_nodes = serializers.ListField(child=serializers.CharField())
    condition = serializers.JSONField(allow_null=True, help_text="The old edge's condition, in YAML shape.")


class TaintingNodesSerializer(serializers.Serializer[dict[str, Any]]):
    edge = serializers.IntegerField(help_text="New edge index.")
    nodes = serializers.ListField(
        child=serializers.CharField(), help_text="Its sources; a run in which they all finished is tainted."
    )


class FlowChangeSerializer(serializers.Serializer[dict[str, Any]]):
    flow = serializers.CharField()
    policy = serializers.ChoiceField(
        choices=["pin", "migrate"],
        help_text="This deployment's SELINON_DJANGO['MIGRATION_POLICY'] for the flow: 'pin' keeps running flows "
                  "on their revision, 'migrate' applies the migration to them.",
    )
    translation = EdgeTranslationSerializer(many=True, help_text="Edges whose index changed (others stay).")
    tainted_edges = TaintedEdgeSerializer(many=True)
    tainting_nodes = TaintingNodesSerializer(many=True)


class MigrationSerializer(serializers.ModelSerializer[FlowMigrationRecord]):
    url = serializers.SerializerMethodField()
    from_revision = serializers.SerializerMethodField()
    to_revision = serializers.SerializerMethodField()
    flows = serializers.ListField(child=serializers.CharField(), source="flow_names", read_only=True,
                                  help_text="Flows the migration changes.")
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = FlowMigrationRecord
        fields = ("version", "url", "from_revision", "to_revision", "from_hash", "to_hash", "tainted_flow_strategy",
                  "flows", "created_at", "created_by", "created_by_name")
        read_only_fields = fields

    def _links(self) -> RevisionLinks:
        links = self.context.get("links")
        if links is None:  # one object on its own: link just that one
            links = RevisionLinks([self.instance] if isinstance(self.instance, FlowMigrationRecord) else [])
            self.context["links"] = links  # type: ignore[index]  # DRF's context is a plain dict
        return links

    def get_url(self, record: FlowMigrationRecord) -> str:
        path = reverse("selinon-migration-detail", args=[record.version])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text=(
        "Revision number running flows come from (null: a configuration never loaded).")))
    def get_from_revision(self, record: FlowMigrationRecord) -> int | None:
        return self._links().from_number(record)

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text=(
        "Revision number the migration leads to (null: a configuration never loaded).")))
    def get_to_revision(self, record: FlowMigrationRecord) -> int | None:
        return self._links().to_number(record)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, record: FlowMigrationRecord) -> str | None:
        user = record.created_by
        return user.get_username() if user is not None else None


class MigrationDetailSerializer(MigrationSerializer):
    content = serializers.JSONField(read_only=True, help_text="Selinon's N.json content, as stored.")
    flow_changes = serializers.SerializerMethodField()

    class Meta(MigrationSerializer.Meta):
        fields = (*MigrationSerializer.Meta.fields, "flow_changes", "content")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]

    @extend_schema_field(FlowChangeSerializer(many=True))
    def get_flow_changes(self, record: FlowMigrationRecord) -> list[dict[str, Any]]:
        return flow_changes(record)


# --- filters -----------------------------------------------------------------------------------


def _revision_q(side: str, number: int) -> Q:
    """Rows whose ``side`` revision is ``number``: by key, or by content hash as the runtime links
    it (a row naming no revision is checked against the linking rule, not any revision's hash)."""
    unlinked = list(
        FlowMigrationRecord.objects.filter(**{f"{side}_revision__isnull": True})
        .exclude(**{f"{side}_hash": ""})
        .values_list("version", f"{side}_hash")
    )
    revisions = revisions_by_hash(content_hash for _, content_hash in unlinked)
    versions = [
        version for version, content_hash in unlinked
        if (revision := revisions.newest(content_hash)) is not None and revision.number == number
    ]
    return Q(**{f"{side}_revision__number": number}) | Q(version__in=versions)


class MigrationFilterSet(filters.FilterSet):
    """``?flow=``, ``?from_revision=``, ``?to_revision=`` (a bad value is a 400 naming it)."""

    flow = filters.CharFilter(method="filter_flow", max_length=255, help_text="Migrations that change this flow.")
    from_revision = IntegerFilter(
        method="filter_revision", min_value=1, max_value=MAX_INT,
        help_text="Migrations from this revision number (linked by key or by content hash).",
    )
    to_revision = IntegerFilter(
        method="filter_revision", min_value=1, max_value=MAX_INT,
        help_text="Migrations to this revision number (linked by key or by content hash).",
    )

    class Meta:
        model = FlowMigrationRecord
        fields: list[str] = []

    def filter_flow(self, queryset: QuerySet[FlowMigrationRecord], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(content__migration__has_key=value)

    def filter_revision(self, queryset: QuerySet[FlowMigrationRecord], name: str, value: int) -> QuerySet[Any]:
        return queryset.filter(_revision_q(name.removesuffix("_revision"), value))


# --- the viewset -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List flow migrations, newest first",
        description="Needs `selinon_django.view_flowmigrationrecord`. Migrations are generated with "
                    "`manage.py selinon_migrate` and never change.",
    ),
    retrieve=extend_schema(
        summary="A flow migration: its N.json content and, per flow, what it does to running flows",
        responses={200: MigrationDetailSerializer},
    ),
)
class MigrationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, SelinonAPIView):
    lookup_field = "version"
    lookup_value_regex = "[0-9]+"
    serializer_class = MigrationSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = MigrationFilterSet
    action_permissions = {"default": (VIEW_MIGRATIONS,)}

    def get_queryset(self) -> QuerySet[FlowMigrationRecord]:
        queryset = FlowMigrationRecord.objects.select_related("from_revision", "to_revision", "created_by")
        if self.action == "list":
            queryset = queryset.order_by("-version")
        return queryset

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":  # filters describe the list; a detail is looked up by version alone
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return MigrationDetailSerializer if self.action == "retrieve" else MigrationSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        records = list(page or [])
        context: Mapping[str, Any] = {**self.get_serializer_context(), "links": RevisionLinks(records)}
        serializer = MigrationSerializer(records, many=True, context=dict(context))
        return self.get_paginated_response(serializer.data)

    def get_object(self) -> FlowMigrationRecord:
        version = str(self.kwargs.get("version", ""))
        try:  # out of the column's range: no such row (and no 5,000-digit int() either)
            parse_bounded_int(version, minimum=1, maximum=MAX_INT)
        except PayloadError:
            raise Http404(f"no flow migration {version[:40]}") from None
        return super().get_object()
